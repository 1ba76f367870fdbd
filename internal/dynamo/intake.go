package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// The intake items share the table (no new index: CloudFormation adds one GSI per update):
//   - "dedup#<key>" (kind "dedup") names the open ticket holding a dedup key; created in one
//     transaction with its ticket, deleted when the ticket resolves. A stale one (its ticket
//     resolved or gone, after a write that did not get to delete it) is found stale on use
//     and removed, so the index heals itself;
//   - tickets with an email to the reporter pending (and their notification no longer
//     PENDING) carry pending = "MAIL" in the sparse PendingIndex;
//   - "integration#<id>" (kind "integration") is one integration, in ListIndex under the
//     bucket "integration" (never a month), with "dueAt" while a heartbeat is up; and
//     "intkey#<hash>" points a key's hash at it. A pointer left over by a rotation or a
//     delete finds an integration whose hash differs, or none, and so authorizes nothing.
const (
	dedupPrefix       = "dedup#"
	kindDedup         = "dedup"
	pendingMail       = "MAIL"
	integrationPrefix = "integration#"
	intKeyPrefix      = "intkey#"
	kindIntegration   = "integration"
	kindIntKey        = "intkey"
	integrationBucket = "integration"
	dueAtAttribute    = "dueAt"
)

// maxFoldAttempts bounds CreateOrFold's races with concurrent writers of one key.
const maxFoldAttempts = 20

var errStaleDedup = errors.New("dynamo: the dedup key names a ticket that no longer holds it")

func dedupRecord(key, ticketID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		KeyAttribute:  &types.AttributeValueMemberS{Value: dedupPrefix + key},
		kindAttribute: &types.AttributeValueMemberS{Value: kindDedup},
		"ticketId":    &types.AttributeValueMemberS{Value: ticketID},
	}
}

// dedupHolder returns the ticket ID the key's record names, or "".
func (s *Store) dedupHolder(ctx context.Context, key string) (string, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: dedupPrefix + key}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read dedup key: %w", err)
	}
	if out.Item == nil {
		return "", nil
	}
	id, _ := out.Item["ticketId"].(*types.AttributeValueMemberS)
	if id == nil {
		return "", nil
	}
	return id.Value, nil
}

// releaseDedup deletes the key's record if it still names ticketID.
func (s *Store) releaseDedup(ctx context.Context, key, ticketID string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: dedupPrefix + key}},
		ConditionExpression:       aws.String("ticketId = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: ticketID}},
	})
	if conditionFailed(err) {
		return nil
	}
	return err
}

// claimDedup makes the key's record name ticketID unless another ticket holds it.
func (s *Store) claimDedup(ctx context.Context, key, ticketID string) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                dedupRecord(key, ticketID),
		ConditionExpression: aws.String("attribute_not_exists(id)"),
	})
	if conditionFailed(err) {
		return nil
	}
	return err
}

// followIntake keeps the dedup record in step after a ticket went from before to t. Failures
// are left for the self-healing described above: the ticket itself is written.
func (s *Store) followIntake(ctx context.Context, wasOpen bool, t *ticket.Ticket) {
	if t.DedupKey == "" || wasOpen == t.Open() {
		return
	}
	if t.Open() {
		s.claimDedup(ctx, t.DedupKey, t.ID)
	} else {
		s.releaseDedup(ctx, t.DedupKey, t.ID)
	}
}

var _ ticket.DedupStore = (*Store)(nil)

// CreateOrFold implements ticket.DedupStore: a new ticket and its key's record are written in
// one transaction, conditional on neither existing; a trigger that finds the record folds
// into its ticket with Update.
func (s *Store) CreateOrFold(ctx context.Context, t *ticket.Ticket, fold func(*ticket.Ticket) error) (*ticket.Ticket, bool, error) {
	key := t.DedupKey
	if key == "" {
		return nil, false, errors.New("dynamo: CreateOrFold needs a ticket with a dedup key")
	}
	for attempt := 0; attempt < maxFoldAttempts; attempt++ {
		holder, err := s.dedupHolder(ctx, key)
		if err != nil {
			return nil, false, err
		}
		if holder != "" {
			got, err := s.Update(ctx, holder, func(x *ticket.Ticket) error {
				if !x.Open() || x.DedupKey != key {
					return errStaleDedup
				}
				return fold(x)
			})
			if err == nil {
				return got, false, nil
			}
			if !errors.Is(err, errStaleDedup) && ticket.ErrorCode(err) != ticket.ENOTFOUND {
				return nil, false, err
			}
			if err := s.releaseDedup(ctx, key, holder); err != nil {
				return nil, false, fmt.Errorf("release a stale dedup key: %w", err)
			}
			continue
		}
		item, err := marshal(t)
		if err != nil {
			return nil, false, err
		}
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(id)")}},
				{Put: &types.Put{TableName: aws.String(s.table), Item: dedupRecord(key, t.ID), ConditionExpression: aws.String("attribute_not_exists(id)")}},
			},
		})
		var canceled *types.TransactionCanceledException
		if errors.As(err, &canceled) {
			if _, gerr := s.Get(ctx, t.ID); gerr == nil {
				return nil, false, errDuplicateID
			}
			// Another trigger created the ticket for this key first: fold into it.
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("create ticket %s with its dedup key: %w", t.ID, err)
		}
		return t, true, nil
	}
	return nil, false, fmt.Errorf("create or fold %q: still contended after %d attempts", key, maxFoldAttempts)
}

// FindOpenByDedupKey implements ticket.DedupStore.
func (s *Store) FindOpenByDedupKey(ctx context.Context, key string) (*ticket.Ticket, error) {
	holder, err := s.dedupHolder(ctx, key)
	if err != nil {
		return nil, err
	}
	if holder == "" {
		return nil, ticket.ErrNotFound
	}
	t, err := s.Get(ctx, holder)
	if err != nil {
		return nil, err
	}
	if !t.Open() || t.DedupKey != key {
		return nil, ticket.ErrNotFound
	}
	return t, nil
}

// PendingMail implements ticket.DedupStore on the sparse PendingIndex (pending = "MAIL").
func (s *Store) PendingMail(ctx context.Context, before time.Time, limit int) ([]*ticket.Ticket, error) {
	return s.pendingAs(ctx, pendingMail, before, limit, func(t *ticket.Ticket) bool { return t.HasPendingMail() })
}

// Integrations is the ticket.IntegrationStore of the Lambdas, in the tickets table.
type Integrations struct {
	client Client
	table  string
}

var _ ticket.IntegrationStore = (*Integrations)(nil)

// NewIntegrations returns the integrations kept in table.
func NewIntegrations(client Client, table string) *Integrations {
	return &Integrations{client: client, table: table}
}

func strAttr(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func marshalIntegration(i *ticket.Integration) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMapWithOptions(i, jsonTags)
	if err != nil {
		return nil, fmt.Errorf("marshal integration %s: %w", i.ID, err)
	}
	dropEmptyLists(item)
	item[KeyAttribute] = strAttr(integrationPrefix + i.ID)
	item["integrationId"] = strAttr(i.ID)
	item[kindAttribute] = strAttr(kindIntegration)
	item[ListBucketAttribute] = strAttr(integrationBucket)
	item[ListKeyAttribute] = strAttr(i.CreatedAt.UTC().Format(sortableTime) + "#" + i.ID)
	if i.Heartbeat != nil && i.Heartbeat.State == ticket.HeartbeatUp {
		item[dueAtAttribute] = strAttr(i.Heartbeat.DueAt.UTC().Format(sortableTime))
	}
	return item, nil
}

func unmarshalIntegration(item map[string]types.AttributeValue) (*ticket.Integration, error) {
	var i ticket.Integration
	if err := attributevalue.UnmarshalMapWithOptions(item, &i, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
		return nil, fmt.Errorf("unmarshal integration: %w", err)
	}
	if id, ok := item["integrationId"].(*types.AttributeValueMemberS); ok {
		i.ID = id.Value
	}
	return &i, nil
}

func (x *Integrations) putKey(ctx context.Context, hash, id string) error {
	_, err := x.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(x.table),
		Item: map[string]types.AttributeValue{
			KeyAttribute: strAttr(intKeyPrefix + hash), kindAttribute: strAttr(kindIntKey), "integrationId": strAttr(id),
		},
		ConditionExpression: aws.String("attribute_not_exists(id)"),
	})
	if conditionFailed(err) {
		return ticket.Errorf(ticket.ECONFLICT, "An integration with this key already exists.")
	}
	return err
}

func (x *Integrations) deleteKey(ctx context.Context, hash string) {
	x.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(x.table), Key: key(intKeyPrefix + hash)})
}

// CreateIntegration implements ticket.IntegrationStore: the key's pointer first, then the
// integration, each conditional on being new.
func (x *Integrations) CreateIntegration(ctx context.Context, i *ticket.Integration) error {
	item, err := marshalIntegration(i)
	if err != nil {
		return err
	}
	if err := x.putKey(ctx, i.KeyHash, i.ID); err != nil {
		return err
	}
	_, err = x.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(x.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(id)")})
	if err != nil {
		x.deleteKey(ctx, i.KeyHash)
		if conditionFailed(err) {
			return ticket.Errorf(ticket.ECONFLICT, "An integration with this ID already exists.")
		}
		return fmt.Errorf("put integration %s: %w", i.ID, err)
	}
	return nil
}

// GetIntegration implements ticket.IntegrationStore.
func (x *Integrations) GetIntegration(ctx context.Context, id string) (*ticket.Integration, error) {
	out, err := x.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(x.table), Key: key(integrationPrefix + id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get integration %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, ticket.ErrIntegrationNotFound
	}
	return unmarshalIntegration(out.Item)
}

// IntegrationByKey implements ticket.IntegrationStore: the pointer, then the integration,
// which must still have that key.
func (x *Integrations) IntegrationByKey(ctx context.Context, keyHash string) (*ticket.Integration, error) {
	out, err := x.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(x.table), Key: key(intKeyPrefix + keyHash), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get integration key: %w", err)
	}
	id, _ := out.Item["integrationId"].(*types.AttributeValueMemberS)
	if id == nil {
		return nil, ticket.ErrIntegrationNotFound
	}
	i, err := x.GetIntegration(ctx, id.Value)
	if err != nil {
		return nil, err
	}
	if i.KeyHash != keyHash {
		return nil, ticket.ErrIntegrationNotFound
	}
	return i, nil
}

func (x *Integrations) query(ctx context.Context, in *dynamodb.QueryInput) ([]*ticket.Integration, error) {
	in.TableName, in.IndexName = aws.String(x.table), aws.String(ListIndex)
	in.KeyConditionExpression = aws.String("#bucket = :bucket")
	if in.ExpressionAttributeNames == nil {
		in.ExpressionAttributeNames = map[string]string{}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{}
	}
	in.ExpressionAttributeNames["#bucket"] = ListBucketAttribute
	in.ExpressionAttributeValues[":bucket"] = strAttr(integrationBucket)
	out := []*ticket.Integration{}
	for {
		res, err := x.client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query integrations: %w", err)
		}
		for _, it := range res.Items {
			i, err := unmarshalIntegration(it)
			if err != nil {
				return nil, err
			}
			out = append(out, i)
		}
		if res.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// ListIntegrations implements ticket.IntegrationStore (ListIndex, bucket "integration").
func (x *Integrations) ListIntegrations(ctx context.Context) ([]*ticket.Integration, error) {
	return x.query(ctx, &dynamodb.QueryInput{ScanIndexForward: aws.Bool(true)})
}

// DueHeartbeats implements ticket.IntegrationStore: the integrations are few, and only the
// ones due pass the filter.
func (x *Integrations) DueHeartbeats(ctx context.Context, now time.Time, limit int) ([]*ticket.Integration, error) {
	due, err := x.query(ctx, &dynamodb.QueryInput{
		FilterExpression:          aws.String("#due <= :now"),
		ExpressionAttributeNames:  map[string]string{"#due": dueAtAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": strAttr(now.UTC().Format(sortableTime))},
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(due, func(a, b int) bool { return due[a].Heartbeat.DueAt.Before(due[b].Heartbeat.DueAt) })
	if len(due) > limit {
		due = due[:limit]
	}
	return due, nil
}

// UpdateIntegration implements ticket.IntegrationStore with a conditional write on the
// version read, retried when another writer won; a new key's pointer is written first and
// the old one deleted after.
func (x *Integrations) UpdateIntegration(ctx context.Context, id string, fn func(*ticket.Integration) error) (*ticket.Integration, error) {
	for attempt := 0; attempt < maxUpdateRetries; attempt++ {
		i, err := x.GetIntegration(ctx, id)
		if err != nil {
			return nil, err
		}
		old, oldHash := i.Version, i.KeyHash
		if err := fn(i); err != nil {
			if errors.Is(err, ticket.ErrNoChange) {
				return x.GetIntegration(ctx, id)
			}
			return nil, err
		}
		i.ID, i.Version = id, old+1
		if i.KeyHash != oldHash {
			if err := x.putKey(ctx, i.KeyHash, id); err != nil {
				return nil, err
			}
		}
		item, err := marshalIntegration(i)
		if err != nil {
			return nil, err
		}
		_, err = x.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(x.table),
			Item:                      item,
			ConditionExpression:       aws.String("attribute_exists(id) AND #version = :old"),
			ExpressionAttributeNames:  map[string]string{"#version": "version"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":old": &types.AttributeValueMemberN{Value: fmt.Sprint(old)}},
		})
		if err == nil {
			if i.KeyHash != oldHash {
				x.deleteKey(ctx, oldHash)
			}
			return i, nil
		}
		if i.KeyHash != oldHash {
			x.deleteKey(ctx, i.KeyHash)
		}
		if !conditionFailed(err) {
			return nil, fmt.Errorf("update integration %s: %w", id, err)
		}
	}
	return nil, fmt.Errorf("update integration %s: still contended after %d attempts", id, maxUpdateRetries)
}

// DeleteIntegration implements ticket.IntegrationStore.
func (x *Integrations) DeleteIntegration(ctx context.Context, id string) error {
	out, err := x.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(x.table),
		Key:                 key(integrationPrefix + id),
		ConditionExpression: aws.String("attribute_exists(id)"),
		ReturnValues:        types.ReturnValueAllOld,
	})
	if conditionFailed(err) {
		return ticket.ErrIntegrationNotFound
	}
	if err != nil {
		return fmt.Errorf("delete integration %s: %w", id, err)
	}
	if h, ok := out.Attributes["keyHash"].(*types.AttributeValueMemberS); ok {
		x.deleteKey(ctx, h.Value)
	}
	return nil
}

// Table is the store's table name.
func (s *Store) Table() string { return s.table }

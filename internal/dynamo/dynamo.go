// Package dynamo stores tickets in one DynamoDB table: the ticket.Store used by the Lambdas.
//
// Layout of the table (partition key "id", a string):
//   - a ticket is one item whose attributes are the ticket's JSON fields, plus "kind" = "ticket";
//   - an idempotency record is an item with id "idem#<key>", kind "idem", the payload hash and
//     the ticket ID, written in the same transaction as its ticket;
//   - every ticket carries "listBucket" and "listKey" for the index ListIndex, which List reads
//     newest first across pages (see list.go);
//   - while a ticket's notification is PENDING it also carries "pending" = "PENDING" and
//     "pendingSince" (its UpdatedAt, fixed width so that it sorts as text): the sparse index
//     PendingIndex holds only those tickets, so the sweeper's query costs what the pending
//     count costs, not what the table costs.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Client is the part of the DynamoDB API the store uses (*dynamodb.Client implements it).
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Names of the table's key, index and bookkeeping attributes. template.yaml declares the same
// (a test compares it with TableInput).
const (
	KeyAttribute          = "id"
	PendingIndex          = "PendingIndex"
	PendingAttribute      = "pending"
	PendingSinceAttribute = "pendingSince"
	kindAttribute         = "kind"
	kindTicket            = "ticket"
	kindIdempotency       = "idem"
	idemPrefix            = "idem#"
)

// sortableTime is fixed width (always nine fraction digits), so text order is time order.
const sortableTime = "2006-01-02T15:04:05.000000000Z07:00"

// Limits on the work one call may do.
const (
	maxUpdateRetries = 50 // per Update: concurrent writers on one ticket are few
)

// Store is a ticket.Store on a DynamoDB table.
type Store struct {
	client Client
	table  string
	cursor *ticket.Cursor
	// Now is the clock for UpdatedAt on Update; time.Now by default.
	Now func() time.Time
	// Log receives items that cannot be decoded (they are skipped in lists); nil means
	// slog.Default().
	Log *slog.Logger
}

func (s *Store) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

var _ ticket.Store = (*Store)(nil)

// NewStore returns a store on table. cursorKey seals List cursors; it must be the same for every
// Lambda instance (the template keeps it in SSM) so a cursor from one instance works on another.
func NewStore(client Client, table string, cursorKey []byte) *Store {
	return &Store{client: client, table: table, cursor: ticket.NewCursor(cursorKey), Now: time.Now}
}

// TableInput describes the table the store expects; tests create it, template.yaml mirrors it.
func TableInput(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(KeyAttribute), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(PendingAttribute), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(PendingSinceAttribute), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(ListBucketAttribute), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(ListKeyAttribute), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(KeyAttribute), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(PendingIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(PendingAttribute), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(PendingSinceAttribute), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			// Every ticket, by month then newest first: what List reads (see list.go). ALL,
			// because a page shows whole tickets.
			IndexName: aws.String(ListIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(ListBucketAttribute), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(ListKeyAttribute), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: id}}
}

func jsonTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }

// marshal turns a ticket into its item: the JSON field names as attribute names, so the table
// reads like the API, plus the bookkeeping attributes.
func marshal(t *ticket.Ticket) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMapWithOptions(t, jsonTags)
	if err != nil {
		return nil, fmt.Errorf("marshal ticket %s: %w", t.ID, err)
	}
	dropEmptyLists(item)
	item[kindAttribute] = &types.AttributeValueMemberS{Value: kindTicket}
	listAttributes(item, t)
	if v := pendingValue(t); v != "" {
		item[PendingAttribute] = &types.AttributeValueMemberS{Value: v}
		item[PendingSinceAttribute] = &types.AttributeValueMemberS{Value: t.UpdatedAt.UTC().Format(sortableTime)}
	}
	return item, nil
}

// pendingValue is the ticket's key in the sparse PendingIndex: PENDING while its notification
// is, then MAIL while an email to the reporter waits (see intake.go); "" keeps it out.
func pendingValue(t *ticket.Ticket) string {
	switch {
	case t.Notification.Status == ticket.NotificationPending:
		return string(ticket.NotificationPending)
	case t.HasPendingMail():
		return pendingMail
	}
	return ""
}

// dropEmptyLists removes empty lists (at any depth): minidyn does not round-trip them, and an
// absent list reads back as an empty one (see unmarshal).
func dropEmptyLists(m map[string]types.AttributeValue) {
	for k, v := range m {
		switch v := v.(type) {
		case *types.AttributeValueMemberL:
			if len(v.Value) == 0 {
				delete(m, k)
			}
		case *types.AttributeValueMemberM:
			dropEmptyLists(v.Value)
		}
	}
}

func unmarshal(item map[string]types.AttributeValue) (*ticket.Ticket, error) {
	var t ticket.Ticket
	if err := attributevalue.UnmarshalMapWithOptions(item, &t, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
		return nil, fmt.Errorf("unmarshal ticket: %w", err)
	}
	if t.Notification.Channels == nil {
		t.Notification.Channels = []ticket.ChannelDelivery{}
	}
	return &t, nil
}

func isTicket(item map[string]types.AttributeValue) bool {
	k, ok := item[kindAttribute].(*types.AttributeValueMemberS)
	return ok && k.Value == kindTicket
}

func conditionFailed(err error) bool {
	var c *types.ConditionalCheckFailedException
	return errors.As(err, &c)
}

var errDuplicateID = ticket.Errorf(ticket.ECONFLICT, "A ticket with this ID already exists.")

// Create stores t under a condition that its ID is new; with an idempotency key, the ticket and
// the key's record are written in one transaction so neither exists without the other.
func (s *Store) Create(ctx context.Context, t *ticket.Ticket, idem ticket.Idempotency) (*ticket.Ticket, bool, error) {
	item, err := marshal(t)
	if err != nil {
		return nil, false, err
	}
	if idem.Key == "" {
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(s.table),
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(id)"),
		})
		if conditionFailed(err) {
			return nil, false, errDuplicateID
		}
		if err != nil {
			return nil, false, fmt.Errorf("put ticket %s: %w", t.ID, err)
		}
		return t, false, nil
	}
	record := map[string]types.AttributeValue{
		KeyAttribute:  &types.AttributeValueMemberS{Value: idemPrefix + idem.Key},
		kindAttribute: &types.AttributeValueMemberS{Value: kindIdempotency},
		"hash":        &types.AttributeValueMemberS{Value: idem.Hash},
		"ticketId":    &types.AttributeValueMemberS{Value: t.ID},
		"createdAt":   &types.AttributeValueMemberS{Value: t.CreatedAt.UTC().Format(time.RFC3339Nano)},
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(id)")}},
			{Put: &types.Put{TableName: aws.String(s.table), Item: record, ConditionExpression: aws.String("attribute_not_exists(id)")}},
		},
	})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		return s.replay(ctx, t.ID, idem, err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("create ticket %s with key: %w", t.ID, err)
	}
	return t, false, nil
}

// replay resolves a canceled create transaction. The key's record is read back rather than
// trusting the cancellation reasons: some implementations report only the first failed item.
func (s *Store) replay(ctx context.Context, id string, idem ticket.Idempotency, cause error) (*ticket.Ticket, bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(idemPrefix + idem.Key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if out.Item == nil {
		var canceled *types.TransactionCanceledException
		if errors.As(cause, &canceled) && len(canceled.CancellationReasons) > 0 && aws.ToString(canceled.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return nil, false, errDuplicateID
		}
		// Canceled for another reason (a conflicting transaction in flight): worth a retry.
		return nil, false, fmt.Errorf("create ticket %s: %w", id, cause)
	}
	var rec struct {
		Hash     string `dynamodbav:"hash"`
		TicketID string `dynamodbav:"ticketId"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return nil, false, fmt.Errorf("unmarshal idempotency key: %w", err)
	}
	if rec.Hash != idem.Hash {
		return nil, false, ticket.ErrIdempotencyKeyReused
	}
	t, err := s.Get(ctx, rec.TicketID)
	if err != nil {
		return nil, false, fmt.Errorf("read replayed ticket %s: %w", rec.TicketID, err)
	}
	return t, true, nil
}

// Get reads one ticket with a strongly consistent read.
func (s *Store) Get(ctx context.Context, id string) (*ticket.Ticket, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get ticket %s: %w", id, err)
	}
	if out.Item == nil || !isTicket(out.Item) {
		return nil, ticket.ErrNotFound
	}
	return unmarshal(out.Item)
}

// Update reads the ticket, applies fn and writes the result with a conditional UpdateItem on
// the version it read (optimistic locking), reading again and retrying when another writer won.
// fn returning ticket.ErrNoChange writes nothing.
func (s *Store) Update(ctx context.Context, id string, fn func(*ticket.Ticket) error) (*ticket.Ticket, error) {
	for attempt := 0; attempt < maxUpdateRetries; attempt++ {
		t, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		old := t.Version
		prevUpdated := t.UpdatedAt
		wasOpen := t.Open()
		if err := fn(t); err != nil {
			if errors.Is(err, ticket.ErrNoChange) {
				return s.Get(ctx, id)
			}
			return nil, err
		}
		t.ID = id
		t.Version = old + 1
		t.UpdatedAt = s.Now().UTC()
		if t.UpdatedAt.Before(prevUpdated) {
			t.UpdatedAt = prevUpdated // a clock behind the stored time must not move it back
		}
		err = s.write(ctx, t, old)
		if err == nil {
			s.followIntake(ctx, wasOpen, t)
			return t, nil
		}
		if !conditionFailed(err) {
			return nil, fmt.Errorf("update ticket %s: %w", id, err)
		}
		// Lost the race: back off a little (jittered, growing) and try on the fresh item.
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(d):
		}
	}
	return nil, fmt.Errorf("update ticket %s: still contended after %d attempts", id, maxUpdateRetries)
}

// write stores every attribute of t except the key with one UpdateItem, conditional on the
// item still existing at version old; the pending index attributes follow the notification.
func (s *Store) write(ctx context.Context, t *ticket.Ticket, old int) error {
	item, err := marshal(t)
	if err != nil {
		return err
	}
	delete(item, KeyAttribute)
	names := map[string]string{"#version": "version"}
	values := map[string]types.AttributeValue{":old": &types.AttributeValueMemberN{Value: fmt.Sprint(old)}}
	attrs := make([]string, 0, len(item))
	for a := range item {
		attrs = append(attrs, a)
	}
	sort.Strings(attrs) // a stable expression reads better in logs and traces
	set := ""
	for i, a := range attrs {
		n, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		names[n], values[v] = a, item[a]
		if set != "" {
			set += ", "
		}
		set += n + " = " + v
	}
	expr := "SET " + set
	// Leaving PENDING takes the ticket out of the sparse index; an emptied timeline (dropped
	// by marshal) must not keep its old value.
	var remove []string
	if pendingValue(t) == "" {
		remove = append(remove, PendingAttribute, PendingSinceAttribute)
	}
	if len(t.Timeline) == 0 {
		remove = append(remove, "timeline")
	}
	for i, a := range remove {
		n := fmt.Sprintf("#r%d", i)
		names[n] = a
		if i == 0 {
			expr += " REMOVE " + n
		} else {
			expr += ", " + n
		}
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(t.ID),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(id) AND #version = :old"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return err
}

// Pending queries the sparse PendingIndex: only PENDING tickets are in it, oldest first.
func (s *Store) Pending(ctx context.Context, before time.Time, limit int) ([]*ticket.Ticket, error) {
	return s.pendingAs(ctx, string(ticket.NotificationPending), before, limit, func(t *ticket.Ticket) bool {
		return t.Notification.Status == ticket.NotificationPending
	})
}

// pendingAs reads the PendingIndex partition value, oldest first, keeping the tickets still
// matching still (the index is eventually consistent: one may have just left it).
func (s *Store) pendingAs(ctx context.Context, value string, before time.Time, limit int, still func(*ticket.Ticket) bool) ([]*ticket.Ticket, error) {
	if limit <= 0 {
		return nil, nil
	}
	var (
		out   []*ticket.Ticket
		start map[string]types.AttributeValue
	)
	for len(out) < limit {
		res, err := s.client.Query(ctx, &dynamodb.QueryInput{
			TableName:                aws.String(s.table),
			IndexName:                aws.String(PendingIndex),
			KeyConditionExpression:   aws.String("#p = :pending AND #since < :before"),
			ExpressionAttributeNames: map[string]string{"#p": PendingAttribute, "#since": PendingSinceAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pending": &types.AttributeValueMemberS{Value: value},
				":before":  &types.AttributeValueMemberS{Value: before.UTC().Format(sortableTime)},
			},
			ScanIndexForward:  aws.Bool(true),
			Limit:             aws.Int32(int32(limit - len(out))),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, fmt.Errorf("query pending tickets: %w", err)
		}
		for _, it := range res.Items {
			t, err := unmarshal(it)
			if err != nil {
				return nil, err
			}
			if still(t) {
				out = append(out, t)
			}
		}
		if res.LastEvaluatedKey == nil {
			break
		}
		start = res.LastEvaluatedKey
	}
	return out, nil
}

// Stats scans the table reading only the three counted attributes.
func (s *Store) Stats(ctx context.Context) (ticket.Stats, error) {
	st := ticket.NewStats()
	var start map[string]types.AttributeValue
	for {
		out, err := s.client.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 aws.String(s.table),
			ProjectionExpression:      aws.String("#status, #severity, #notification.#status"),
			FilterExpression:          aws.String("#kind = :ticket"),
			ExpressionAttributeNames:  map[string]string{"#status": "status", "#severity": "severity", "#notification": "notification", "#kind": kindAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ticket": &types.AttributeValueMemberS{Value: kindTicket}},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return ticket.Stats{}, fmt.Errorf("scan stats: %w", err)
		}
		for _, it := range out.Items {
			t, err := unmarshal(it)
			if err != nil {
				return ticket.Stats{}, err
			}
			st.Count(t)
		}
		if out.LastEvaluatedKey == nil {
			return st, nil
		}
		start = out.LastEvaluatedKey
	}
}

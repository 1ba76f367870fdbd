package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// The list index. Every ticket item carries ListBucketAttribute, the UTC month it was created
// in ("2026-12"), and ListKeyAttribute, its creation time (fixed width) and ID; ListIndex has
// the month as partition key and that key as sort key. List reads the newest month first,
// newest first within it, then the month before, and so on: tickets come newest first across
// pages, and each month's tickets are their own partition, so writes spread as months pass
// instead of all landing on one hot key. Idempotency records carry neither attribute and
// stay out of the index.
const (
	ListIndex           = "ListIndex"
	ListBucketAttribute = "listBucket"
	ListKeyAttribute    = "listKey"
	bucketLayout        = "2006-01"
)

// listEpoch is the oldest month List walks back to: the list index came with the table layout
// of December 2026, so no ticket stored with it is older. It bounds the walk of a sparse or
// filtered list, together with maxListQueries per page.
var listEpoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// maxListQueries bounds the Query calls of one List page (about four years of months with no
// matching ticket); a page cut short by it still carries a cursor to go on from.
const maxListQueries = 48

// clockSkew is how far ahead of this instance's clock another writer's may be: List starts
// in the month of now+clockSkew, so a ticket created a moment "in the future" is not missed.
const clockSkew = time.Hour

// listAttributes adds the list index attributes of t to its item.
func listAttributes(item map[string]types.AttributeValue, t *ticket.Ticket) {
	item[ListBucketAttribute] = &types.AttributeValueMemberS{Value: bucketOf(t.CreatedAt)}
	item[ListKeyAttribute] = &types.AttributeValueMemberS{Value: t.CreatedAt.UTC().Format(sortableTime) + "#" + t.ID}
}

func bucketOf(t time.Time) string { return t.UTC().Format(bucketLayout) }

// previousBucket is the month before bucket, or "" when that is older than listEpoch.
func previousBucket(bucket string) string {
	m, err := time.Parse(bucketLayout, bucket)
	if err != nil {
		return ""
	}
	prev := m.AddDate(0, -1, 0)
	if prev.Before(listEpoch) {
		return ""
	}
	return prev.Format(bucketLayout)
}

// position is what a List cursor seals: the direction, the month being read and the list key
// of the last ticket already looked at in it ("" = from that month's first).
type position struct {
	Bucket string `json:"b"`
	After  string `json:"a,omitempty"`
	Asc    bool   `json:"o,omitempty"`
}

var errBadCursor = &ticket.Error{Code: ticket.EINVALID, Message: "The cursor is not valid.", Fields: []ticket.FieldError{{Field: "cursor", Message: "Use the nextCursor of a previous page unchanged."}}}

// nextBucket is the month after bucket, or "" when that is later than last.
func nextBucket(bucket, last string) string {
	m, err := time.Parse(bucketLayout, bucket)
	if err != nil {
		return ""
	}
	next := m.AddDate(0, 1, 0).Format(bucketLayout)
	if next > last {
		return ""
	}
	return next
}

// List queries ListIndex month by month (see ListIndex): newest first (SortFiled), or oldest
// first (SortAge); the date range bounds the months read. Status and severity are filtered by
// DynamoDB; the other fields of the filter (notification, category, search words, changed
// since) in memory with Filter.Matches, on what the queries read. It is a bounded filtered
// query: a page is filled up to the limit within maxListQueries calls, and one cut short by
// that bound still carries a cursor to go on from. Sorting by update time or severity needs an
// index per order and is offered by the embedded store only. Total is not counted (-1).
func (s *Store) List(ctx context.Context, f ticket.Filter) (ticket.Page, error) {
	limit := f.PageSize()
	asc := false
	switch f.Sort {
	case "", ticket.SortFiled:
	case ticket.SortAge:
		asc = true
	default:
		return ticket.Page{}, &ticket.Error{Code: ticket.EINVALID, Message: "The query has invalid parameters.", Fields: []ticket.FieldError{{Field: "sort", Message: "On AWS tickets sort by filing time only (filed or age)."}}}
	}
	newest := bucketOf(s.Now().Add(clockSkew))
	if !f.CreatedTo.IsZero() && bucketOf(f.CreatedTo) < newest {
		newest = bucketOf(f.CreatedTo)
	}
	oldest := listEpoch.Format(bucketLayout)
	if !f.CreatedFrom.IsZero() && bucketOf(f.CreatedFrom) > oldest {
		oldest = bucketOf(f.CreatedFrom)
	}
	pos := position{Bucket: newest, Asc: asc}
	if asc {
		pos.Bucket = oldest
	}
	if f.Cursor != "" {
		pos = position{}
		if err := s.cursor.Decode(f.Cursor, &pos); err != nil {
			return ticket.Page{}, err
		}
		if _, err := time.Parse(bucketLayout, pos.Bucket); err != nil || len(pos.Bucket) != len(bucketLayout) || pos.Asc != asc {
			return ticket.Page{}, errBadCursor
		}
	}
	step := func(bucket string) string {
		if asc {
			return nextBucket(bucket, newest)
		}
		if prev := previousBucket(bucket); prev >= oldest {
			return prev
		}
		return ""
	}
	// DynamoDB refuses declared names and values that no expression uses, so the filter's own
	// are kept apart and added to each call as needed.
	names := map[string]string{}
	var filters []string
	values := map[string]types.AttributeValue{}
	if f.Status != "" {
		filters = append(filters, "#status = :status")
		names["#status"] = "status"
		values[":status"] = &types.AttributeValueMemberS{Value: string(f.Status)}
	}
	if f.Severity != "" {
		filters = append(filters, "#severity = :severity")
		names["#severity"] = "severity"
		values[":severity"] = &types.AttributeValueMemberS{Value: string(f.Severity)}
	}
	inMemory := f.Notification != "" || f.Category != "" || f.Query != "" || !f.CreatedFrom.IsZero() || !f.CreatedTo.IsZero() || !f.UpdatedSince.IsZero()
	page := ticket.Page{Items: []*ticket.Ticket{}, Total: -1}
	next := func(p position) (ticket.Page, error) {
		c, err := s.cursor.Encode(p)
		if err != nil {
			return ticket.Page{}, err
		}
		page.NextCursor = c
		return page, nil
	}
	bucket, after := pos.Bucket, pos.After
	for queries := 0; ; queries++ {
		if queries == maxListQueries {
			return next(position{bucket, after, asc})
		}
		want := limit - len(page.Items)
		// One more than the page needs tells whether the month goes on after it. With a
		// filter most items may not match, so read more per call to save round trips.
		evaluate := want + 1
		if len(filters) > 0 || inMemory {
			evaluate = min(max(4*want, 25), 1000)
		}
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 aws.String(ListIndex),
			KeyConditionExpression:    aws.String("#bucket = :bucket"),
			ExpressionAttributeNames:  map[string]string{"#bucket": ListBucketAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{":bucket": &types.AttributeValueMemberS{Value: bucket}},
			ScanIndexForward:          aws.Bool(asc),
			Limit:                     aws.Int32(int32(evaluate)),
		}
		if after != "" {
			op := "<"
			if asc {
				op = ">"
			}
			in.KeyConditionExpression = aws.String("#bucket = :bucket AND #key " + op + " :after")
			in.ExpressionAttributeNames["#key"] = ListKeyAttribute
			in.ExpressionAttributeValues[":after"] = &types.AttributeValueMemberS{Value: after}
		}
		if len(filters) > 0 {
			in.FilterExpression = aws.String(strings.Join(filters, " AND "))
			for k, v := range names {
				in.ExpressionAttributeNames[k] = v
			}
			for k, v := range values {
				in.ExpressionAttributeValues[k] = v
			}
		}
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return ticket.Page{}, fmt.Errorf("query tickets of %s: %w", bucket, err)
		}
		for i, it := range out.Items {
			if len(page.Items) == limit {
				// The month goes on: resume after the last ticket looked at.
				return next(position{bucket, after, asc})
			}
			after = itemListKey(it)
			t, err := unmarshal(it)
			if err != nil {
				s.log().ErrorContext(ctx, "skipping a ticket that cannot be decoded", "key", after, "err", err)
				continue
			}
			if inMemory && !f.Matches(t) {
				continue
			}
			page.Items = append(page.Items, t)
			if len(page.Items) == limit && i == len(out.Items)-1 && out.LastEvaluatedKey == nil {
				break // the month may end here: go on below
			}
		}
		if out.LastEvaluatedKey != nil {
			// The month goes on past what this call evaluated.
			if k := itemListKey(out.LastEvaluatedKey); k != "" {
				after = k
			}
			if len(page.Items) == limit {
				return next(position{bucket, after, asc})
			}
			continue
		}
		bucket, after = step(bucket), ""
		if bucket == "" {
			return page, nil
		}
		if len(page.Items) == limit {
			return next(position{bucket, "", asc})
		}
	}
}

func itemListKey(item map[string]types.AttributeValue) string {
	k, _ := item[ListKeyAttribute].(*types.AttributeValueMemberS)
	if k == nil {
		return ""
	}
	return k.Value
}

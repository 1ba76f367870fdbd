package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// A sort is an ordered list of keys: the SQL expression of each, its direction, and how the
// last row's value is kept in the cursor. The last key is the ID, so the order is total and a
// cursor names one place exactly.
type sortKey struct {
	expr string
	desc bool
}

const severityRank = `CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END`

var sorts = map[ticket.Sort][]sortKey{
	ticket.SortFiled:    {{"created_at", true}, {"id", true}},
	ticket.SortAge:      {{"created_at", false}, {"id", false}},
	ticket.SortUpdated:  {{"updated_at", true}, {"id", true}},
	ticket.SortSeverity: {{severityRank, false}, {"created_at", true}, {"id", true}},
}

// listPosition is what a List cursor seals: the sort, and the last row's value of each key.
type listPosition struct {
	Sort   ticket.Sort `json:"s"`
	Values []any       `json:"v"`
}

// maxCount bounds the count of a filtered list: beyond it the answer is "more than".
const maxCount = 10000

// List implements ticket.Store: keyset-paginated in the filter's sort, the search through the
// full-text index. A row that cannot be decoded is logged with its ID and skipped: one bad row
// must not hide the queue. The first page also counts the matching tickets, up to maxCount.
func (s *Store) List(ctx context.Context, f ticket.Filter) (ticket.Page, error) {
	limit := f.PageSize()
	if f.Sort == "" {
		f.Sort = ticket.SortFiled
	}
	keys, ok := sorts[f.Sort]
	if !ok {
		return ticket.Page{}, &ticket.Error{Code: ticket.EINVALID, Message: "The query has invalid parameters.", Fields: []ticket.FieldError{{Field: "sort", Message: "Unknown sort."}}}
	}
	where, args := filterSQL(f)
	page := ticket.Page{Items: []*ticket.Ticket{}, Total: -1}
	if f.Cursor == "" {
		q := `SELECT COUNT(*) FROM (SELECT 1 FROM tickets`
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		q += fmt.Sprintf(" LIMIT %d)", maxCount+1)
		var n int
		if err := s.db.queryRow(ctx, q, args...).Scan(&n); err != nil {
			return ticket.Page{}, err
		}
		page.Total, page.TotalExact = min(n, maxCount), n <= maxCount
	} else {
		var p listPosition
		if err := s.cursor.Decode(f.Cursor, &p); err != nil {
			return ticket.Page{}, err
		}
		if p.Sort != f.Sort || len(p.Values) != len(keys) {
			return ticket.Page{}, &ticket.Error{Code: ticket.EINVALID, Message: "The cursor is not valid.", Fields: []ticket.FieldError{{Field: "cursor", Message: "Use the nextCursor of a previous page with the same sort."}}}
		}
		w, a := after(keys, p.Values)
		where, args = append(where, w), append(args, a...)
	}
	cols := make([]string, len(keys))
	order := make([]string, len(keys))
	for i, k := range keys {
		cols[i] = k.expr
		order[i] = k.expr + map[bool]string{true: " DESC", false: " ASC"}[k.desc]
	}
	q := `SELECT id, ` + ticketBody + `, ` + strings.Join(cols, ", ") + ` FROM tickets`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return ticket.Page{}, err
	}
	defer rows.Close()
	var last []any
	seen := 0
	for rows.Next() {
		var id string
		var body []byte
		vals := make([]any, len(keys))
		dest := []any{&id, &body}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return ticket.Page{}, err
		}
		if seen == limit {
			if page.NextCursor, err = s.cursor.Encode(listPosition{Sort: f.Sort, Values: last}); err != nil {
				return ticket.Page{}, err
			}
			break
		}
		seen++
		last = vals
		t, err := decode(body, id)
		if err != nil {
			s.log().ErrorContext(ctx, "skipping a ticket that cannot be decoded", "ticketId", id, "err", err)
			continue
		}
		page.Items = append(page.Items, t)
	}
	return page, rows.Err()
}

// filterSQL turns the filter's fields into conditions on the tickets table.
func filterSQL(f ticket.Filter) (where []string, args []any) {
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Severity != "" {
		add("severity = ?", f.Severity)
	}
	if f.Notification != "" {
		add("notification_status = ?", f.Notification)
	}
	if f.Category != "" {
		add("category = ?", strings.ToLower(f.Category)) // kept lower-case: matched regardless of case
	}
	if !f.CreatedFrom.IsZero() {
		add("created_at >= ?", ts(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		add("created_at < ?", ts(f.CreatedTo))
	}
	if !f.UpdatedSince.IsZero() {
		add("updated_at > ?", ts(f.UpdatedSince))
	}
	if words := ticket.QueryWords(f.Query); len(words) > 0 {
		add(`rowid IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)`, ftsQuery(words, true))
	}
	return where, args
}

// ftsQuery is an FTS5 query matching every word (as a prefix when prefix is set), each quoted
// so that no character of the user's text is FTS5 syntax.
func ftsQuery(words []string, prefix bool) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
		if prefix {
			parts[i] += "*"
		}
	}
	if len(parts) == 0 {
		return `""`
	}
	return strings.Join(parts, " AND ")
}

// after is the keyset condition "comes after the row with these key values" in the sort.
func after(keys []sortKey, vals []any) (string, []any) {
	var ors []string
	var args []any
	for i := range keys {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, keys[j].expr+" = ?")
			args = append(args, vals[j])
		}
		op := ">"
		if keys[i].desc {
			op = "<"
		}
		ands = append(ands, keys[i].expr+" "+op+" ?")
		args = append(args, vals[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

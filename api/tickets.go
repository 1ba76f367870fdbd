package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/jsonstrict"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// decode reads a JSON body strictly: application/json only, at most MaxBody bytes, then
// jsonstrict (one object, valid UTF-8, no duplicate or unknown members, nothing after it,
// bounded depth and numbers). It writes the problem itself and reports whether decoding
// succeeded.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		s.problem(w, r, http.StatusUnsupportedMediaType, "Send the request body as application/json.", nil)
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.problem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body must be at most %d bytes.", MaxBody), nil)
		return false
	}
	if err != nil {
		s.problem(w, r, http.StatusBadRequest, "The request body could not be read.", nil)
		return false
	}
	if err := jsonstrict.Decode(body, v); err != nil {
		var je *jsonstrict.Error
		if !errors.As(err, &je) {
			s.fail(w, r, err)
			return false
		}
		s.Log.DebugContext(r.Context(), "request body refused", "requestId", requestID(r.Context()), "err", je.Err)
		if je.Field == "" {
			s.problem(w, r, http.StatusBadRequest, je.Message, nil)
		} else {
			s.problem(w, r, http.StatusBadRequest, "The request body has an invalid member.", []ticket.FieldError{{Field: je.Field, Message: je.Message}})
		}
		return false
	}
	return true
}

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 128

// idempotencyKey reads the Idempotency-Key header: at most MaxIdempotencyKey visible ASCII
// characters (a UUID is what the web app sends).
func idempotencyKey(r *http.Request) (string, *ticket.Error) {
	key := strings.Trim(r.Header.Get("Idempotency-Key"), " \t")
	bad := func(msg string) *ticket.Error {
		return &ticket.Error{Code: ticket.EINVALID, Message: "The Idempotency-Key header is not valid.", Fields: []ticket.FieldError{{Field: "Idempotency-Key", Message: msg}}}
	}
	if len(key) > MaxIdempotencyKey {
		return "", bad(fmt.Sprintf("At most %d characters.", MaxIdempotencyKey))
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return "", bad("Only visible ASCII characters, such as a UUID.")
		}
	}
	return key, nil
}

func (s *server) createTicket(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.Backlog != nil && s.MaxBacklog > 0 && s.Backlog() > s.MaxBacklog {
		w.Header().Set("Retry-After", "2")
		s.problem(w, r, http.StatusServiceUnavailable, "Too many notifications are waiting to go out; try again in a moment.", nil)
		return
	}
	var in ticket.NewTicket
	if !s.decode(w, r, &in) {
		return
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	key, kerr := idempotencyKey(r)
	if kerr != nil {
		s.fail(w, r, kerr)
		return
	}
	// Charged only now, after the cheap checks: invalid floods do not spend real reporters'
	// budget.
	if s.CreateLimit != nil {
		if ok, perClient, wait := s.CreateLimit.Allow(s.ClientAddr(r)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			msg := "Too many tickets are being filed right now; try again in a moment."
			if perClient {
				msg = "You are filing tickets faster than this service accepts; try again in a moment."
			}
			s.problem(w, r, http.StatusTooManyRequests, msg, nil)
			return
		}
	}
	idem := ticket.Idempotency{Key: key}
	if idem.Key != "" {
		canon, _ := json.Marshal(in)
		sum := sha256.Sum256(canon)
		idem.Hash = hex.EncodeToString(sum[:])
	}
	// From here the request context no longer matters: a reporter who hangs up after sending
	// still gets a stored ticket whose notification starts (a retry with the key returns it).
	ctx = context.WithoutCancel(ctx)
	fresh := ticket.New(s.NewID(), in, s.Now())
	if s.ReporterMail {
		fresh.QueueMail(ticket.MailFiled, "", fresh.CreatedAt)
	}
	t, replayed, err := s.Store.Create(ctx, fresh, idem)
	if err != nil {
		if idem.Key != "" && ticket.ErrorCode(err) == ticket.ECONFLICT {
			// With a fresh ID, the only conflict Store.Create reports is the key reused with
			// another payload (the stores still call it ECONFLICT).
			err = ticket.ErrIdempotencyKeyReused
		}
		s.fail(w, r, err)
		return
	}
	log := s.Log.With("requestId", requestID(ctx), "ticketId", t.ID)
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		log.InfoContext(ctx, "ticket create replayed")
		// The first request may have been cut off before its workflow started: a replay of a
		// ticket whose delivery never began starts it (a duplicate start is harmless, the
		// delivery state guards every channel).
		if t.Notification.Status == ticket.NotificationPending && t.Notification.Attempts == 0 {
			s.start(ctx, log, t)
		}
	} else {
		log.InfoContext(ctx, "ticket created", "severity", t.Severity)
		s.mailQueued(t)
		s.start(ctx, log, t)
	}
	w.Header().Set("Location", "/ticket/"+t.ID)
	w.Header().Set("ETag", etag(t.Version))
	writeJSON(w, http.StatusCreated, s.view(w, r, t))
}

// view is what r may see of t: the whole ticket for admins, the public view for everyone
// else, whichever route answers (create, its replay, get).
func (s *server) view(w http.ResponseWriter, r *http.Request, t *ticket.Ticket) *ticket.Ticket {
	w.Header().Add("Vary", "Authorization")
	if s.isAdmin(r) {
		return t
	}
	return t.Public()
}

// start kicks off the workflow. The ticket is already durable and acknowledged either way: a
// failure leaves it PENDING for the sweeper, so it is logged, not returned.
func (s *server) start(ctx context.Context, log *slog.Logger, t *ticket.Ticket) {
	if s.Starter == nil {
		log.ErrorContext(ctx, "no workflow starter configured; the ticket stays PENDING")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.StartTimeout)
	defer cancel()
	exec, err := s.Starter.Start(ctx, t.ID)
	if err != nil {
		log.ErrorContext(ctx, "start notification workflow; the sweeper will retry", "err", err)
		return
	}
	log.InfoContext(ctx, "notification workflow started", "execution", exec)
}

// getTicket answers anyone with the ID (the reporter's capability) with the public view, and
// admins with the whole ticket.
func (s *server) getTicket(w http.ResponseWriter, r *http.Request) {
	t, err := s.Store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(t.Version))
	writeJSON(w, http.StatusOK, s.view(w, r, t))
}

func etag(v int) string { return `"` + strconv.Itoa(v) + `"` }

type listResponse struct {
	Items      []*ticket.Ticket `json:"items"`
	NextCursor *string          `json:"nextCursor"`
	// Total counts what the filter selects (first page only): exactly, or at least when
	// TotalExact is false; absent when the store does not count.
	Total      *int  `json:"total,omitempty"`
	TotalExact *bool `json:"totalExact,omitempty"`
}

// listFilter reads GET /ticket's query: status, severity, notification, category, q (search),
// from and to (filing time: RFC 3339, or a date, to exclusive), updatedSince (RFC 3339), sort
// (filed, age, updated, severity), limit and cursor.
func listFilter(q url.Values) (ticket.Filter, error) {
	f := ticket.Filter{
		Status: ticket.Status(q.Get("status")), Severity: ticket.Severity(q.Get("severity")),
		Notification: ticket.NotificationStatus(strings.ToUpper(q.Get("notification"))),
		Category:     strings.TrimSpace(q.Get("category")), Query: q.Get("q"),
		Sort: ticket.Sort(q.Get("sort")), Cursor: q.Get("cursor"), Limit: ticket.DefaultLimit,
	}
	var fe []ticket.FieldError
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			n = -1 // Validate says what a limit may be
		}
		f.Limit = n
	}
	times := []struct {
		name string
		into *time.Time
	}{{"from", &f.CreatedFrom}, {"to", &f.CreatedTo}, {"updatedSince", &f.UpdatedSince}}
	for _, tm := range times {
		v := q.Get(tm.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			if d, derr := time.Parse(time.DateOnly, v); derr == nil {
				t, err = d, nil
			}
		}
		if err != nil {
			fe = append(fe, ticket.FieldError{Field: tm.name, Message: "Use a time such as 2026-12-02T09:30:00Z or a date such as 2026-12-02."})
			continue
		}
		*tm.into = t
	}
	err := f.Validate()
	var e *ticket.Error
	if errors.As(err, &e) {
		fe = append(fe, e.Fields...)
	}
	if len(fe) > 0 {
		return f, &ticket.Error{Code: ticket.EINVALID, Message: "The query has invalid parameters.", Fields: fe}
	}
	return f, nil
}

func (s *server) listTickets(w http.ResponseWriter, r *http.Request) {
	f, err := listFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := s.Store.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp := listResponse{Items: page.Items}
	if resp.Items == nil {
		resp.Items = []*ticket.Ticket{}
	}
	if page.NextCursor != "" {
		resp.NextCursor = &page.NextCursor
	}
	if f.Cursor == "" && page.Total >= 0 {
		resp.Total, resp.TotalExact = &page.Total, &page.TotalExact
	}
	writeJSON(w, http.StatusOK, resp)
}

type patchRequest struct {
	Status ticket.Status `json:"status"`
}

func (s *server) patchTicket(w http.ResponseWriter, r *http.Request) {
	var in patchRequest
	if !s.decode(w, r, &in) {
		return
	}
	pre, ok := parseIfMatch(r.Header.Values("If-Match"))
	if !ok {
		s.fail(w, r, &ticket.Error{Code: ticket.EINVALID, Message: "The If-Match header is not valid.", Fields: []ticket.FieldError{{Field: "If-Match", Message: `Send "*" or the ETag from GET, such as "3", quotes included.`}}})
		return
	}
	t, err := s.Store.Update(r.Context(), r.PathValue("id"), func(t *ticket.Ticket) error {
		if !pre.matches(t.Version) {
			return ticket.ErrVersionMismatch
		}
		return t.TransitionBy(in.Status, ticket.Actor{Kind: ticket.ActorUser, Name: "admin"}, s.Now())
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.mailQueued(t)
	s.Log.InfoContext(r.Context(), "ticket status changed", "requestId", requestID(r.Context()), "ticketId", t.ID, "status", t.Status)
	w.Header().Set("ETag", etag(t.Version))
	writeJSON(w, http.StatusOK, t)
}

func (s *server) stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Store.Stats(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

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

	"github.com/incidentmanager/incidents/internal/ticket"
)

// decode reads a JSON body strictly: application/json only, at most MaxBody bytes, no unknown
// fields, one value. It writes the problem itself and reports whether decoding succeeded.
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
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.problem(w, r, http.StatusBadRequest, jsonProblem(err), jsonFields(err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		s.problem(w, r, http.StatusBadRequest, "The request body must hold exactly one JSON object.", nil)
		return false
	}
	return true
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "The request body is not valid JSON."
	case errors.As(err, &typ):
		return "A field has the wrong type."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "The request body has a field this API does not know."
	}
	return "The request body is not valid JSON."
}

func jsonFields(err error) []ticket.FieldError {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field != "" {
		return []ticket.FieldError{{Field: typ.Field, Message: "Must be a " + jsonType(typ.Type.Kind().String()) + "."}}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return []ticket.FieldError{{Field: strings.Trim(f, `"`), Message: "Unknown field."}}
	}
	return nil
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "struct", "map":
		return "JSON object"
	}
	return kind
}

func (s *server) createTicket(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.CreateLimit != nil && !s.CreateLimit.Allow() {
		w.Header().Set("Retry-After", "1")
		s.problem(w, r, http.StatusTooManyRequests, "Too many tickets are being filed right now; try again in a moment.", nil)
		return
	}
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
	idem := ticket.Idempotency{Key: strings.TrimSpace(r.Header.Get("Idempotency-Key"))}
	if idem.Key != "" {
		if len(idem.Key) > 128 {
			s.problem(w, r, http.StatusBadRequest, "The Idempotency-Key header must be at most 128 characters.", []ticket.FieldError{{Field: "Idempotency-Key", Message: "At most 128 characters."}})
			return
		}
		canon, _ := json.Marshal(in)
		sum := sha256.Sum256(canon)
		idem.Hash = hex.EncodeToString(sum[:])
	}
	// From here the request context no longer matters: a reporter who hangs up after sending
	// still gets a stored ticket whose notification starts (a retry with the key returns it).
	ctx = context.WithoutCancel(ctx)
	t, replayed, err := s.Store.Create(ctx, ticket.New(s.NewID(), in, s.Now()), idem)
	if err != nil {
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
		s.start(ctx, log, t)
	}
	w.Header().Set("Location", "/ticket/"+t.ID)
	writeJSON(w, http.StatusCreated, t)
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
	w.Header().Add("Vary", "Authorization")
	if !s.isAdmin(r) {
		t = t.Public()
	}
	writeJSON(w, http.StatusOK, t)
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
	want := -1
	if m := strings.TrimSpace(r.Header.Get("If-Match")); m != "" && m != "*" {
		// If-Match compares strongly (RFC 9110 §13.1.1): a weak or foreign tag never matches.
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(m, `"`), `"`), 10, 31)
		if err != nil || !strings.HasPrefix(m, `"`) {
			s.fail(w, r, ticket.ErrVersionMismatch)
			return
		}
		want = int(n)
	}
	t, err := s.Store.Update(r.Context(), r.PathValue("id"), func(t *ticket.Ticket) error {
		if want >= 0 && t.Version != want {
			return ticket.ErrVersionMismatch
		}
		return t.Transition(in.Status, s.Now())
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
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

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
	"strconv"
	"strings"

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
	fresh := ticket.New(s.NewID(), in, s.Now())
	if s.ReporterMail {
		fresh.QueueMail(ticket.MailFiled, "", fresh.CreatedAt)
	}
	t, replayed, err := s.Store.Create(ctx, fresh, idem)
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
		s.mailQueued(t)
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
}

func (s *server) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ticket.Filter{Status: ticket.Status(q.Get("status")), Severity: ticket.Severity(q.Get("severity")), Cursor: q.Get("cursor"), Limit: ticket.DefaultLimit}
	var fe []ticket.FieldError
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ticket.MaxLimit {
			fe = append(fe, ticket.FieldError{Field: "limit", Message: "Limit must be a whole number from 1 to 100."})
		}
		f.Limit = n
	}
	if f.Status != "" && !f.Status.Valid() {
		fe = append(fe, ticket.FieldError{Field: "status", Message: "Status must be one of open, acknowledged, resolved."})
	}
	if f.Severity != "" && !f.Severity.Valid() {
		fe = append(fe, ticket.FieldError{Field: "severity", Message: "Severity must be one of critical, high, medium, low."})
	}
	if len(fe) > 0 {
		s.fail(w, r, &ticket.Error{Code: ticket.EINVALID, Message: "The query has invalid parameters.", Fields: fe})
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

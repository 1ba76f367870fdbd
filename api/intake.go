package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// The intake routes. POST /v2/enqueue speaks the PagerDuty Events API v2 in PagerDuty's own
// shapes (202 success, 400 invalid event, 429 throttle event), so that tools made for it work
// unchanged; the others answer like the rest of this API.

// Default per-key event rate: PagerDuty allows about 120 events a minute per routing key.
const (
	DefaultEventsRate  = rate.Limit(2)
	DefaultEventsBurst = 120
	// maxAlertmanagerBody bounds an Alertmanager notification (a group of many alerts).
	maxAlertmanagerBody = 4 << 20
	// maxLimiters bounds the per-key limiters kept (one per routing key seen lately).
	maxLimiters = 10000
)

func (s *server) intakeRoutes() {
	if s.Intake != nil && s.Integrations != nil {
		s.mux.HandleFunc("POST /v2/enqueue", s.enqueue)
		s.mux.HandleFunc("POST /v1/alertmanager", s.alertmanager)
		s.mux.HandleFunc("POST /v1/alertmanager/{key}", s.alertmanager)
		s.mux.HandleFunc("POST /v1/heartbeat/{key}", s.heartbeat)
		s.mux.HandleFunc("GET /v1/heartbeat/{key}", s.heartbeat)
	}
	if s.Integrations != nil {
		s.mux.HandleFunc("POST /admin/integrations", s.admin(s.createIntegration))
		s.mux.HandleFunc("GET /admin/integrations", s.admin(s.listIntegrations))
		s.mux.HandleFunc("GET /admin/integrations/{id}", s.admin(s.getIntegration))
		s.mux.HandleFunc("PATCH /admin/integrations/{id}", s.admin(s.patchIntegration))
		s.mux.HandleFunc("POST /admin/integrations/{id}/rotate", s.admin(s.rotateIntegration))
		s.mux.HandleFunc("DELETE /admin/integrations/{id}", s.admin(s.deleteIntegration))
	}
}

// keyLimiters throttles events per routing key.
type keyLimiters struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	m     map[string]*rate.Limiter
}

func (k *keyLimiters) allow(key string) bool {
	if k.limit <= 0 {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.m[key]
	if !ok {
		if len(k.m) >= maxLimiters {
			for x := range k.m { // a random one: map order
				delete(k.m, x)
				break
			}
		}
		l = rate.NewLimiter(k.limit, k.burst)
		k.m[key] = l
	}
	return l.Allow()
}

// pdAnswer is PagerDuty's response body.
type pdAnswer struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

func (s *server) enqueue(w http.ResponseWriter, r *http.Request) {
	invalid := func(errs ...string) {
		writeJSON(w, http.StatusBadRequest, pdAnswer{Status: "invalid event", Message: "Event object is invalid", Errors: errs})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, intake.MaxEvent))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		invalid("Event object is too large (at most 524288 bytes)")
		return
	}
	if err != nil {
		invalid("The request body could not be read")
		return
	}
	var e intake.Event
	if err := json.Unmarshal(body, &e); err != nil {
		invalid("The request body is not valid JSON")
		return
	}
	if !s.eventLimits.allow(e.RoutingKey) {
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusTooManyRequests, pdAnswer{Status: "throttle event", Message: "Requests for this service are arriving too quickly. Please retry later."})
		return
	}
	dedup, err := s.Intake.Enqueue(r.Context(), e)
	var ie *intake.InvalidEvent
	switch {
	case errors.As(err, &ie):
		invalid(ie.Errors...)
		return
	case err != nil:
		status := statusOf[ticket.ErrorCode(err)]
		if status < 500 {
			status = http.StatusInternalServerError
		}
		s.Log.ErrorContext(r.Context(), "event failed", "requestId", requestID(r.Context()), "err", err)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, status, pdAnswer{Status: "error", Message: "The event could not be processed; retry it."})
		return
	}
	writeJSON(w, http.StatusAccepted, pdAnswer{Status: "success", Message: "Event processed", DedupKey: dedup})
}

// integrationKey authenticates an intake request by its key: Authorization: Bearer KEY, or
// the last path segment.
func (s *server) integrationKey(w http.ResponseWriter, r *http.Request, typ ticket.IntegrationType) (*ticket.Integration, bool) {
	key := r.PathValue("key")
	if key == "" {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			key = strings.TrimSpace(h[7:])
		}
	}
	if key != "" {
		i, err := s.Integrations.IntegrationByKey(r.Context(), ticket.KeyHash(key))
		if err == nil && i.Type == typ {
			return i, true
		}
		if err != nil && ticket.ErrorCode(err) != ticket.ENOTFOUND {
			s.fail(w, r, err)
			return nil, false
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="incident-manager-integrations"`)
	s.problem(w, r, http.StatusUnauthorized, "A valid integration key is required.", nil)
	return nil, false
}

func (s *server) alertmanager(w http.ResponseWriter, r *http.Request) {
	integ, ok := s.integrationKey(w, r, ticket.IntegrationEvents)
	if !ok {
		return
	}
	if !s.eventLimits.allow(integ.ID) {
		w.Header().Set("Retry-After", "30")
		s.problem(w, r, http.StatusTooManyRequests, "Notifications for this integration are arriving too quickly; retry later.", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAlertmanagerBody))
	if err != nil {
		s.problem(w, r, http.StatusRequestEntityTooLarge, "The notification is too large.", nil)
		return
	}
	var wh intake.Webhook
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&wh); err != nil {
		// Alertmanager's own format, read leniently: its versions add fields.
		s.problem(w, r, http.StatusBadRequest, "The notification is not valid JSON.", nil)
		return
	}
	t, err := s.Intake.Alertmanager(r.Context(), integ, wh)
	var ie *intake.InvalidEvent
	if errors.As(err, &ie) {
		fields := make([]ticket.FieldError, len(ie.Errors))
		for i, e := range ie.Errors {
			fields[i] = ticket.FieldError{Field: "body", Message: e}
		}
		s.problem(w, r, http.StatusBadRequest, "The notification is not a valid Alertmanager webhook.", fields)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := map[string]any{"status": "success"}
	if t != nil {
		out["ticketId"], out["ticketStatus"] = t.ID, t.Status
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) heartbeat(w http.ResponseWriter, r *http.Request) {
	i, err := s.Intake.Ping(r.Context(), r.PathValue("key"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "name": i.Name, "state": i.Heartbeat.State, "dueAt": i.Heartbeat.DueAt})
}

// integrationView is an integration as admins see it: never the key's hash; the key itself
// only in the answer that made it.
type integrationView struct {
	ID        string                 `json:"id"`
	Name      string                 `json:"name"`
	Type      ticket.IntegrationType `json:"type"`
	Key       string                 `json:"key,omitempty"`
	KeyHint   string                 `json:"keyHint"`
	Severity  ticket.Severity        `json:"severity,omitempty"`
	Heartbeat *ticket.Heartbeat      `json:"heartbeat,omitempty"`
	// URLs say where to point the sender (with the key, when shown).
	URLs      map[string]string `json:"urls"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	Version   int               `json:"version"`
}

// baseURL is this API's URL as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func viewOf(r *http.Request, i *ticket.Integration, key string) integrationView {
	v := integrationView{ID: i.ID, Name: i.Name, Type: i.Type, Key: key, KeyHint: i.KeyHint, Severity: i.Severity, Heartbeat: i.Heartbeat, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt, Version: i.Version, URLs: map[string]string{}}
	base := baseURL(r)
	k := key
	if k == "" {
		k = "KEY"
	}
	switch i.Type {
	case ticket.IntegrationEvents:
		v.URLs["events"] = base + "/v2/enqueue"
		v.URLs["alertmanager"] = base + "/v1/alertmanager"
	case ticket.IntegrationHeartbeat:
		v.URLs["heartbeat"] = base + "/v1/heartbeat/" + k
	}
	return v
}

func (s *server) createIntegration(w http.ResponseWriter, r *http.Request) {
	var in ticket.NewIntegration
	if !s.decode(w, r, &in) {
		return
	}
	i, key, err := ticket.NewIntegrationFrom(s.NewID(), in, s.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Integrations.CreateIntegration(r.Context(), i); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "integration created", "requestId", requestID(r.Context()), "integration", i.ID, "type", i.Type)
	w.Header().Set("Location", "/admin/integrations/"+i.ID)
	writeJSON(w, http.StatusCreated, viewOf(r, i, key))
}

func (s *server) listIntegrations(w http.ResponseWriter, r *http.Request) {
	all, err := s.Integrations.ListIntegrations(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]integrationView, len(all))
	for n, i := range all {
		items[n] = viewOf(r, i, "")
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *server) getIntegration(w http.ResponseWriter, r *http.Request) {
	i, err := s.Integrations.GetIntegration(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(r, i, ""))
}

func (s *server) patchIntegration(w http.ResponseWriter, r *http.Request) {
	var in ticket.IntegrationChange
	if !s.decode(w, r, &in) {
		return
	}
	i, err := s.Integrations.UpdateIntegration(r.Context(), r.PathValue("id"), func(i *ticket.Integration) error { return i.Apply(in, s.Now()) })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(r, i, ""))
}

func (s *server) rotateIntegration(w http.ResponseWriter, r *http.Request) {
	var key string
	i, err := s.Integrations.UpdateIntegration(r.Context(), r.PathValue("id"), func(i *ticket.Integration) error { key = i.Rotate(s.Now()); return nil })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "integration key rotated", "requestId", requestID(r.Context()), "integration", i.ID)
	writeJSON(w, http.StatusOK, viewOf(r, i, key))
}

func (s *server) deleteIntegration(w http.ResponseWriter, r *http.Request) {
	if err := s.Integrations.DeleteIntegration(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "integration deleted", "requestId", requestID(r.Context()), "integration", r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

type replyRequest struct {
	Message string `json:"message"`
}

// reply is a responder answering the reporter: on the timeline, and emailed to them.
func (s *server) reply(w http.ResponseWriter, r *http.Request) {
	var in replyRequest
	if !s.decode(w, r, &in) {
		return
	}
	t, err := s.Store.Update(r.Context(), r.PathValue("id"), func(t *ticket.Ticket) error {
		return t.Reply(in.Message, ticket.Actor{Kind: ticket.ActorUser, Name: "admin"}, s.Now())
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.mailQueued(t)
	w.Header().Set("ETag", etag(t.Version))
	writeJSON(w, http.StatusCreated, t)
}

// mailQueued tells the embedded mail sender about a ticket with a reporter email to send.
func (s *server) mailQueued(t *ticket.Ticket) {
	if s.MailQueued != nil && t.HasPendingMail() {
		s.MailQueued(t.ID)
	}
}

// Package api is the HTTP API of Incident Manager as one net/http handler. The embedded server
// serves it directly; on AWS each Lambda adapts API Gateway v2 events to this same handler, so
// routing, validation, errors and auth behave the same in both places.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// OutboxEntry is one locally delivered notification.
type OutboxEntry struct {
	ID       string    `json:"id"`
	Channel  string    `json:"channel"`
	TicketID string    `json:"ticketId"`
	Subject  string    `json:"subject"`
	Body     string    `json:"body"`
	At       time.Time `json:"at"`
}

// OutboxReader lists local deliveries, newest first (embedded server only).
type OutboxReader interface {
	Entries(ctx context.Context, ticketID string, limit int) ([]OutboxEntry, error)
}

// Config wires the handler to its ports. Nil ports switch their routes off.
type Config struct {
	Store ticket.Store
	// Starter starts the workflow after a create; nil in the read-only Lambdas.
	Starter ticket.Starter
	// Executions backs /admin/executions (embedded server only; on AWS the history of
	// Express executions lives in CloudWatch Logs).
	Executions ticket.ExecutionStore
	Outbox     OutboxReader
	// AdminToken returns the bearer token that admin routes require; nil: they always 401.
	AdminToken func(ctx context.Context) (string, error)
	Log        *slog.Logger
	Now        func() time.Time
	NewID      func() string
	// AllowOrigin is the one origin allowed by CORS ("" = same-origin only).
	AllowOrigin string
	// RequestID returns the platform's request ID (API Gateway's on AWS); nil or "" means one
	// is generated.
	RequestID func(r *http.Request) string
	// StartTimeout bounds Starter.Start so a slow workflow service cannot hold the 201.
	StartTimeout time.Duration
	// CreateLimit throttles POST /ticket per client address and in total (on AWS, API
	// Gateway's route throttling does this in front of the Lambda); nil means no limit.
	CreateLimit *Throttle
	// ClientAddr names the client a request is charged to (nil: ClientAddr, the connection's
	// address).
	ClientAddr func(r *http.Request) string
	// Backlog, when set, counts the notifications waiting to be delivered; while it is above
	// MaxBacklog (> 0) POST /ticket answers 503 with Retry-After before storing anything, so a
	// storm slows reporters down instead of stranding tickets.
	Backlog    func() int
	MaxBacklog int
	// Events, when set, serves GET /events (the live feed the store publishes changes to).
	Events *Events
	// Health, when set, proves the store can write; GET /healthz answers 503 while it fails.
	// It is called at most once a second.
	Health func(ctx context.Context) error

	// Intake serves the monitoring routes (POST /v2/enqueue, /v1/alertmanager,
	// /v1/heartbeat/{key}; see intake.go); nil switches them off.
	Intake *intake.Service
	// Integrations backs /admin/integrations and the intake routes' keys.
	Integrations ticket.IntegrationStore
	// EventsRate and EventsBurst throttle events per integration key (429 beyond);
	// 0 means DefaultEventsRate and DefaultEventsBurst, a negative rate no limit.
	EventsRate  rate.Limit
	EventsBurst int
	// ReporterMail: tickets filed through POST /ticket queue the "filed" email to their
	// reporter (set where a reporter mailer runs).
	ReporterMail bool
	// MailQueued, when set, is told the ID of each ticket with a reporter email newly queued
	// (the embedded server sends it at once).
	MailQueued func(ticketID string)
}

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

type server struct {
	Config
	mux         *http.ServeMux
	health      healthCache
	eventLimits *keyLimiters
}

// New returns the API handler.
func New(c Config) http.Handler {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	if c.ClientAddr == nil {
		c.ClientAddr = ClientAddr
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 3 * time.Second
	}
	if c.EventsRate == 0 {
		c.EventsRate, c.EventsBurst = DefaultEventsRate, DefaultEventsBurst
	}
	s := &server{Config: c, mux: http.NewServeMux(), eventLimits: &keyLimiters{limit: c.EventsRate, burst: max(c.EventsBurst, 1), m: map[string]*rate.Limiter{}}}
	s.mux.HandleFunc("POST /ticket", s.createTicket)
	s.mux.HandleFunc("GET /ticket", s.admin(s.listTickets))
	s.mux.HandleFunc("GET /ticket/{id}", s.getTicket)
	// The whole ticket for admins, on a route of its own so that on AWS it sits behind the
	// authorizer, and the public GET /ticket/{id} function needs no access to the admin token.
	s.mux.HandleFunc("GET /admin/tickets/{id}", s.admin(s.getTicket))
	s.mux.HandleFunc("PATCH /ticket/{id}", s.admin(s.patchTicket))
	s.mux.HandleFunc("POST /admin/tickets/bulk", s.admin(s.bulkTickets))
	s.mux.HandleFunc("POST /admin/tickets/{id}/retry-notification", s.admin(s.retryNotification))
	s.mux.HandleFunc("GET /admin/stats", s.admin(s.stats))
	s.mux.HandleFunc("GET /events", s.admin(s.events))
	s.mux.HandleFunc("GET /admin/executions", s.admin(s.listExecutions))
	s.mux.HandleFunc("GET /admin/executions/{name}", s.admin(s.getExecution))
	s.mux.HandleFunc("GET /admin/outbox", s.admin(s.outbox))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("POST /admin/tickets/{id}/replies", s.admin(s.reply))
	s.intakeRoutes()
	return s
}

type ctxKey struct{}

// requestID returns the ID given to r by ServeHTTP.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := ""
	if s.RequestID != nil {
		id = s.RequestID(r)
	}
	if id == "" {
		id = uuid.NewString()
	}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	w = rec
	start := s.Now()
	_, pattern := s.mux.Handler(r)
	defer func() {
		// One line per request: the route pattern (not the path, which holds ticket IDs),
		// status and duration, findable by the request ID a client was shown.
		s.Log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("requestId", id), slog.String("method", r.Method), slog.String("route", pattern),
			slog.Int("status", rec.status), slog.Float64("ms", float64(s.Now().Sub(start).Microseconds())/1000))
	}()
	h := w.Header()
	h.Set("X-Request-Id", id)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if s.AllowOrigin != "" && r.Header.Get("Origin") == s.AllowOrigin {
		h.Set("Access-Control-Allow-Origin", s.AllowOrigin)
		h.Set("Access-Control-Expose-Headers", "Location, ETag, X-Request-Id, Idempotent-Replayed")
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, If-Match")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if pattern == "" {
		s.noRoute(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// noRoute answers 405 when the path exists with another method, 404 otherwise.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.problem(w, r, http.StatusMethodNotAllowed, "This method is not allowed here.", nil)
		return
	}
	s.problem(w, r, http.StatusNotFound, "No such resource.", nil)
}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// admin wraps h so that it runs only with the admin bearer token.
func (s *server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.isAdmin(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="incident-manager"`)
			s.problem(w, r, http.StatusUnauthorized, "A valid admin token is required.", nil)
			return
		}
		h(w, r)
	}
}

func (s *server) isAdmin(r *http.Request) bool {
	header := r.Header.Get("Authorization")
	if s.AdminToken == nil || header == "" {
		return false
	}
	want, err := s.AdminToken(r.Context())
	if err != nil {
		s.Log.ErrorContext(r.Context(), "load admin token", "requestId", requestID(r.Context()), "err", err)
		return false
	}
	return BearerMatches(header, want)
}

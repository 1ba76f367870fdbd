package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Problem is an RFC 9457 problem document, with field-level errors for validation.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Instance  string              `json:"instance,omitempty"`
	RequestID string              `json:"requestId"`
	Errors    []ticket.FieldError `json:"errors,omitempty"`
}

// statusOf maps application error codes to HTTP statuses: the one place that does.
var statusOf = map[string]int{
	ticket.EINVALID:       http.StatusBadRequest,
	ticket.ENOTFOUND:      http.StatusNotFound,
	ticket.ECONFLICT:      http.StatusConflict,
	ticket.EUNAUTHORIZED:  http.StatusUnauthorized,
	ticket.EPRECONDITION:  http.StatusPreconditionFailed,
	ticket.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	ticket.EINTERNAL:      http.StatusInternalServerError,
	ticket.EUNAVAILABLE:   http.StatusServiceUnavailable,
}

// fail writes err as a problem. Application errors show their message; anything else is
// logged in full with the request ID and shown as "Internal error.".
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := ticket.ErrorCode(err)
	switch code {
	case ticket.EINTERNAL:
		s.Log.ErrorContext(r.Context(), "request failed", "requestId", requestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
	case ticket.EUNAVAILABLE:
		s.Log.ErrorContext(r.Context(), "store unavailable", "requestId", requestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
	}
	var fields []ticket.FieldError
	var e *ticket.Error
	if errors.As(err, &e) {
		fields = e.Fields
	}
	s.problem(w, r, statusOf[code], ticket.ErrorMessage(err), fields)
}

func (s *server) problem(w http.ResponseWriter, r *http.Request, status int, detail string, fields []ticket.FieldError) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Instance:  r.URL.Path,
		RequestID: requestID(r.Context()),
		Errors:    fields,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

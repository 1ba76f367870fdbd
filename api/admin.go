package api

import (
	"net/http"
	"strconv"

	"github.com/incidentmanager/incidents/internal/ticket"
)

var errNoLocalHistory = ticket.Errorf(ticket.ENOTFOUND, "Execution history is not kept here; see the Step Functions console.")

func (s *server) listExecutions(w http.ResponseWriter, r *http.Request) {
	if s.Executions == nil {
		s.fail(w, r, errNoLocalHistory)
		return
	}
	name := r.URL.Query().Get("ticket")
	if name == "" {
		name = r.URL.Query().Get("name")
	}
	if name == "" {
		s.fail(w, r, &ticket.Error{Code: ticket.EINVALID, Message: "Say which ticket's executions to list.", Fields: []ticket.FieldError{{Field: "ticket", Message: "A ticket ID is required."}}})
		return
	}
	items, err := s.Executions.Executions(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *server) getExecution(w http.ResponseWriter, r *http.Request) {
	if s.Executions == nil {
		s.fail(w, r, errNoLocalHistory)
		return
	}
	x, err := s.Executions.LatestExecution(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (s *server) outbox(w http.ResponseWriter, r *http.Request) {
	if s.Outbox == nil {
		s.fail(w, r, ticket.Errorf(ticket.ENOTFOUND, "There is no local outbox here; notifications go to SNS."))
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, &ticket.Error{Code: ticket.EINVALID, Message: "The query has invalid parameters.", Fields: []ticket.FieldError{{Field: "limit", Message: "Limit must be a whole number from 1 to 1000."}}})
			return
		}
		limit = n
	}
	items, err := s.Outbox.Entries(r.Context(), r.URL.Query().Get("ticket"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if items == nil {
		items = []OutboxEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

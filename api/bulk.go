package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Bulk actions on the queue: one request, one result per ticket, so a responder who selected
// twenty tickets learns which three could not be resolved and why.

// MaxBulk bounds the tickets of one bulk request.
const MaxBulk = 100

// Bulk actions.
const (
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
	ActionReopen      = "reopen"
	ActionRetry       = "retry-notification"
)

type bulkRequest struct {
	IDs    []string `json:"ids"`
	Action string   `json:"action"`
}

type bulkResult struct {
	ID      string        `json:"id"`
	OK      bool          `json:"ok"`
	Status  ticket.Status `json:"status,omitempty"`
	Version int           `json:"version,omitempty"`
	// Error is the reason a ticket was not changed, as a problem's title and detail.
	Error *bulkError `json:"error,omitempty"`
}

type bulkError struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

type bulkResponse struct {
	Results   []bulkResult `json:"results"`
	Succeeded int          `json:"succeeded"`
	Failed    int          `json:"failed"`
}

// bulkTickets is POST /admin/tickets/bulk {"ids": [...], "action": "..."}.
func (s *server) bulkTickets(w http.ResponseWriter, r *http.Request) {
	var in bulkRequest
	if !s.decode(w, r, &in) {
		return
	}
	var fe []ticket.FieldError
	switch in.Action {
	case ActionAcknowledge, ActionResolve, ActionReopen, ActionRetry:
	default:
		fe = append(fe, ticket.FieldError{Field: "action", Message: "Action must be one of acknowledge, resolve, reopen, retry-notification."})
	}
	if len(in.IDs) == 0 || len(in.IDs) > MaxBulk {
		fe = append(fe, ticket.FieldError{Field: "ids", Message: "Give from 1 to 100 ticket IDs."})
	}
	seen := map[string]bool{}
	for i, id := range in.IDs {
		if id == "" || len(id) > 64 || seen[id] {
			fe = append(fe, ticket.FieldError{Field: "ids[" + strconv.Itoa(i) + "]", Message: "Each ID must be given once and not be empty."})
		}
		seen[id] = true
	}
	if len(fe) > 0 {
		s.fail(w, r, &ticket.Error{Code: ticket.EINVALID, Message: "The request has invalid fields.", Fields: fe})
		return
	}
	resp := bulkResponse{Results: make([]bulkResult, 0, len(in.IDs))}
	for _, id := range in.IDs {
		t, err := s.act(r.Context(), id, in.Action)
		res := bulkResult{ID: id}
		if err != nil {
			code := ticket.ErrorCode(err)
			if code == ticket.EINTERNAL || code == ticket.EUNAVAILABLE {
				s.Log.ErrorContext(r.Context(), "bulk action failed", "requestId", requestID(r.Context()), "ticketId", id, "action", in.Action, "err", err)
			}
			res.Error = &bulkError{Status: statusOf[code], Detail: ticket.ErrorMessage(err)}
			resp.Failed++
		} else {
			res.OK, res.Status, res.Version = true, t.Status, t.Version
			resp.Succeeded++
		}
		resp.Results = append(resp.Results, res)
	}
	s.Log.InfoContext(r.Context(), "bulk action", "requestId", requestID(r.Context()), "action", in.Action, "succeeded", resp.Succeeded, "failed", resp.Failed)
	writeJSON(w, http.StatusOK, resp)
}

// retryNotification is POST /admin/tickets/{id}/retry-notification.
func (s *server) retryNotification(w http.ResponseWriter, r *http.Request) {
	t, err := s.act(r.Context(), r.PathValue("id"), ActionRetry)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(t.Version))
	writeJSON(w, http.StatusOK, t)
}

// act applies one action to one ticket.
func (s *server) act(ctx context.Context, id, action string) (*ticket.Ticket, error) {
	if action == ActionRetry {
		t, err := s.Store.Update(ctx, id, func(t *ticket.Ticket) error {
			if err := t.RetryDelivery("an admin", s.Now()); err != nil {
				if err == ticket.ErrNoChange {
					return ticket.Errorf(ticket.ECONFLICT, "Only a notification that ended partial or failed can be retried.")
				}
				return err
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.start(ctx, s.Log.With("requestId", requestID(ctx), "ticketId", t.ID), t)
		return t, nil
	}
	to := map[string]ticket.Status{ActionAcknowledge: ticket.StatusAcknowledged, ActionResolve: ticket.StatusResolved, ActionReopen: ticket.StatusOpen}[action]
	return s.Store.Update(ctx, id, func(t *ticket.Ticket) error { return t.Transition(to, s.Now()) })
}

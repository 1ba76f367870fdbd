package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// ErrorOutput is Step Functions' error output as a Catch passes it on.
type ErrorOutput struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Message returns the human part of the error: the Lambda error document's errorMessage when
// the cause is one, the cause itself otherwise.
func (e ErrorOutput) Message() string {
	var doc struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(e.Cause), &doc) == nil && doc.ErrorMessage != "" {
		return e.Error + ": " + doc.ErrorMessage
	}
	if e.Cause == "" {
		return e.Error
	}
	return e.Error + ": " + e.Cause
}

// RecordInput is what RecordFailure passes: the ticket, the execution and the error the
// workflow gave up on.
type RecordInput struct {
	TicketID  string       `json:"ticketId"`
	Execution string       `json:"execution"`
	Error     *ErrorOutput `json:"error,omitempty"`
}

// RecordOutput is the notification's status as recorded.
type RecordOutput struct {
	TicketID string                    `json:"ticketId"`
	Status   ticket.NotificationStatus `json:"status"`
}

// Record ends a ticket's delivery when the workflow gives up on it: channels still pending are
// FAILED and the overall status follows (PARTIAL when some channel was reached).
type Record struct {
	Store ticket.Store
	Now   func() time.Time
}

// Handle is the task handler. A delivery that has already ended stays as it is: a late
// duplicate execution that failed must not undo what happened.
func (r *Record) Handle(ctx context.Context, in RecordInput) (RecordOutput, error) {
	if in.TicketID == "" {
		return RecordOutput{}, &ticket.PermanentError{Err: errors.New("ticketId is required")}
	}
	reason := "the notification workflow failed"
	if in.Error != nil {
		reason = in.Error.Message()
	}
	t, err := r.Store.Update(ticket.Deferred(ctx), in.TicketID, func(t *ticket.Ticket) error {
		return t.FailDelivery(in.Execution, reason, r.Now())
	})
	if err != nil {
		return RecordOutput{}, storeError("record the outcome", err)
	}
	return RecordOutput{TicketID: t.ID, Status: t.Notification.Status}, nil
}

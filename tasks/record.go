package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// RecordInput is what RecordSent and RecordFailure pass.
type RecordInput struct {
	TicketID  string       `json:"ticketId"`
	Outcome   string       `json:"outcome"` // SENT or FAILED
	Execution string       `json:"execution"`
	Error     *ErrorOutput `json:"error,omitempty"`
}

// RecordOutput is the notification as recorded.
type RecordOutput struct {
	TicketID     string              `json:"ticketId"`
	Notification ticket.Notification `json:"notification"`
}

// Record writes the workflow's outcome onto the ticket.
type Record struct {
	Store ticket.Store
	Now   func() time.Time
}

// Handle is the task handler. A ticket already SENT stays SENT: a late duplicate execution
// that failed must not undo a delivery that happened.
func (r *Record) Handle(ctx context.Context, in RecordInput) (RecordOutput, error) {
	status := ticket.NotificationStatus(in.Outcome)
	if in.TicketID == "" || (status != ticket.NotificationSent && status != ticket.NotificationFailed) {
		return RecordOutput{}, &ticket.PermanentError{Err: errors.New("ticketId and an outcome of SENT or FAILED are required")}
	}
	t, err := r.Store.Update(ctx, in.TicketID, func(t *ticket.Ticket) error {
		if t.Notification.Status == ticket.NotificationSent {
			return nil
		}
		// The outcome is final for this execution: release the delivery lease.
		t.Notification.ReleaseLease()
		t.Notification.Status = status
		if in.Execution != "" {
			t.Notification.Execution = in.Execution
		}
		now := r.Now()
		if status == ticket.NotificationSent {
			t.Notification.LastError = ""
			t.AddTimeline(now, ticket.EventNotifySent, fmt.Sprintf("Admins notified after %d attempt(s).", t.Notification.Attempts))
			return nil
		}
		if in.Error != nil {
			t.Notification.LastError = in.Error.Message()
		}
		if t.Notification.LastError == "" {
			t.Notification.LastError = "the notification workflow failed"
		}
		t.AddTimeline(now, ticket.EventNotifyFailed, "Notification failed: "+t.Notification.LastError)
		return nil
	})
	if err != nil {
		return RecordOutput{}, storeError("record the outcome", err)
	}
	return RecordOutput{TicketID: t.ID, Notification: t.Notification}, nil
}

// Command sweep is the scheduled Lambda that recovers notifications: it starts the workflow
// again for tickets whose notification is still PENDING some minutes after their last change
// (the create function could not start it, or the execution died without recording an
// outcome). It reads the sparse pending index, so each run costs what the pending count costs.
// A ticket restarted MaxRestarts times without an outcome is marked FAILED, so a broken
// workflow cannot make the sweeper loop forever.
//
// Environment: TABLE_NAME, STATE_MACHINE_ARN.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/sfn"
	"github.com/incidentmanager/incidents/internal/ticket"
)

const (
	// StaleAfter is longer than an Express execution may run (5 minutes), so a running
	// workflow is never started twice by the sweeper.
	StaleAfter  = 6 * time.Minute
	Batch       = 50
	MaxRestarts = 5
)

func main() {
	log := lambdacontext.NewLogger()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fatal(log, "load AWS configuration", err)
	}
	s := &sweeper{
		store:   dynamo.NewStore(dynamodb.NewFromConfig(cfg), env(log, "TABLE_NAME"), nil),
		starter: sfn.NewStarter(awssfn.NewFromConfig(cfg), env(log, "STATE_MACHINE_ARN")),
		log:     log,
	}
	lambda.Start(s.sweep)
}

type sweeper struct {
	store   ticket.Store
	starter ticket.Starter
	log     *slog.Logger
}

// Result is what one sweep did.
type Result struct {
	Restarted []string `json:"restarted"`
	GaveUp    []string `json:"gaveUp"`
}

// sweep handles the schedule's event (its content does not matter).
func (s *sweeper) sweep(ctx context.Context, _ map[string]any) (Result, error) {
	res := Result{Restarted: []string{}, GaveUp: []string{}}
	pending, err := s.store.Pending(ctx, time.Now().Add(-StaleAfter), Batch)
	if err != nil {
		return res, &ticket.TransientError{Err: fmt.Errorf("list pending tickets: %w", err)}
	}
	for _, p := range pending {
		gaveUp := false
		// Count the restart on the ticket first: it moves UpdatedAt, so the next sweep
		// leaves the ticket alone for StaleAfter, and it bounds the restarts.
		t, err := s.store.Update(ctx, p.ID, func(t *ticket.Ticket) error {
			gaveUp = false
			if t.Notification.Status != ticket.NotificationPending {
				return errNotPending
			}
			if restarts(t) >= MaxRestarts {
				gaveUp = true
				t.Notification.Status = ticket.NotificationFailed
				t.Notification.LastError = fmt.Sprintf("the notification workflow did not finish after %d restarts", MaxRestarts)
				t.AddTimeline(time.Now(), ticket.EventNotifyFailed, "Notification failed: "+t.Notification.LastError)
				return nil
			}
			t.AddTimeline(time.Now(), ticket.EventWorkflowStarted, restartMessage)
			return nil
		})
		if errors.Is(err, errNotPending) {
			continue
		}
		if err != nil {
			s.log.ErrorContext(ctx, "count the restart", "ticketId", p.ID, "err", err)
			continue
		}
		if gaveUp {
			res.GaveUp = append(res.GaveUp, t.ID)
			s.log.WarnContext(ctx, "gave up on a notification", "ticketId", t.ID)
			continue
		}
		exec, err := s.starter.Start(ctx, t)
		if err != nil {
			// Throttled or down: the rest would fail too; the next sweep tries again.
			s.log.ErrorContext(ctx, "restart the notification workflow", "ticketId", t.ID, "err", err)
			return res, &ticket.TransientError{Err: err}
		}
		res.Restarted = append(res.Restarted, t.ID)
		s.log.InfoContext(ctx, "notification workflow restarted", "ticketId", t.ID, "execution", exec)
	}
	return res, nil
}

const restartMessage = "Notification workflow restarted by the sweeper."

var errNotPending = errors.New("no longer pending")

func restarts(t *ticket.Ticket) int {
	n := 0
	for _, e := range t.Timeline {
		if e.Type == ticket.EventWorkflowStarted && e.Message == restartMessage {
			n++
		}
	}
	return n
}

func env(log *slog.Logger, name string) string {
	v := os.Getenv(name)
	if v == "" {
		fatal(log, "missing environment variable "+name, nil)
	}
	return v
}

func fatal(log *slog.Logger, msg string, err error) {
	log.Error(msg, "err", err)
	os.Exit(1)
}

// Package intake turns what monitoring systems and email send into tickets: PagerDuty Events
// API v2 events, Alertmanager webhooks, heartbeat pings and misses, and messages to the
// support address. It is the application layer between the transports (the HTTP API, the
// embedded SMTP listener, the SES receipt Lambda, the heartbeat schedule) and the domain: the
// rules (folding, actors, limits) live in internal/ticket.
package intake

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Service files, folds and changes tickets for the intake transports.
type Service struct {
	Tickets      ticket.Store
	Integrations ticket.IntegrationStore
	// Starter starts the notification workflow for a ticket just filed (never for a fold);
	// nil leaves new tickets PENDING for the sweeper.
	Starter ticket.Starter
	// ReporterMail queues the "filed" email to the reporter of a ticket that came by email.
	ReporterMail bool
	// MailSent, when set, is told about each ticket with a reporter email newly queued, so
	// that it goes out at once (the embedded server); the mail sweep sends it otherwise.
	MailQueued func(ticketID string)
	Now        func() time.Time
	NewID      func() string
	Log        *slog.Logger
	// StartTimeout bounds Starter.Start; 0 means 3 s.
	StartTimeout time.Duration
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) newID() string {
	if s.NewID == nil {
		return uuid.Must(uuid.NewV7()).String()
	}
	return s.NewID()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// start kicks off the workflow for a ticket just filed: it is durable already, so a failure
// is logged and left to the sweeper.
func (s *Service) start(ctx context.Context, t *ticket.Ticket) {
	if t.HasPendingMail() && s.MailQueued != nil {
		s.MailQueued(t.ID)
	}
	if s.Starter == nil {
		return
	}
	d := s.StartTimeout
	if d == 0 {
		d = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	defer cancel()
	if exec, err := s.Starter.Start(ctx, t.ID); err != nil {
		s.log().ErrorContext(ctx, "start notification workflow; the sweeper will retry", "ticketId", t.ID, "err", err)
	} else {
		s.log().InfoContext(ctx, "notification workflow started", "ticketId", t.ID, "execution", exec)
	}
}

// file stores an intake ticket or folds it into the open one with its key.
func (s *Service) file(ctx context.Context, in ticket.Intake, fold func(*ticket.Ticket) error) (*ticket.Ticket, bool, error) {
	if err := in.Validate(); err != nil {
		return nil, false, err
	}
	t := ticket.NewFromIntake(s.newID(), in, s.now())
	ctx = context.WithoutCancel(ctx) // a sender that hangs up still gets its ticket started
	stored, created, err := s.Tickets.CreateOrFold(ctx, t, fold)
	if err != nil {
		return nil, false, err
	}
	if created {
		s.log().InfoContext(ctx, "ticket filed", "ticketId", stored.ID, "source", in.Source.Kind, "integration", in.Source.IntegrationID)
		s.start(ctx, stored)
	}
	return stored, created, nil
}

// change applies a status change by an actor to the open ticket holding key; no such ticket,
// or one already there, is no change and no error (as PagerDuty treats such events).
func (s *Service) change(ctx context.Context, key string, by ticket.Actor, fn func(*ticket.Ticket) error) (*ticket.Ticket, error) {
	t, err := s.Tickets.FindOpenByDedupKey(ctx, key)
	if ticket.ErrorCode(err) == ticket.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	got, err := s.Tickets.Update(context.WithoutCancel(ctx), t.ID, func(x *ticket.Ticket) error {
		if x.DedupKey != key || !x.Open() {
			return ticket.ErrNoChange
		}
		return fn(x)
	})
	if err != nil {
		return nil, err
	}
	if got.HasPendingMail() && s.MailQueued != nil {
		s.MailQueued(got.ID)
	}
	return got, nil
}

// transition is fn for change: move to status unless already there.
func transition(to ticket.Status, by ticket.Actor, now time.Time) func(*ticket.Ticket) error {
	return func(x *ticket.Ticket) error {
		if x.Status == to {
			return ticket.ErrNoChange
		}
		return x.TransitionBy(to, by, now)
	}
}

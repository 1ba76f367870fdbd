package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Heartbeat monitors watch the monitoring: a job pings POST /v1/heartbeat/{key} at least every
// interval; when a ping is late, a ticket is filed, and the next ping resolves it. A monitor
// starts waiting: it is not due until its first ping.

// ErrUnknownHeartbeat is a ping whose key names no heartbeat monitor.
var ErrUnknownHeartbeat = &ticket.Error{Code: ticket.ENOTFOUND, Message: "No heartbeat monitor has this key."}

// Ping resets the monitor whose key was pinged, resolving the ticket its miss filed.
func (s *Service) Ping(ctx context.Context, key string) (*ticket.Integration, error) {
	integ, err := s.Integrations.IntegrationByKey(ctx, ticket.KeyHash(key))
	if ticket.ErrorCode(err) == ticket.ENOTFOUND || (err == nil && integ.Type != ticket.IntegrationHeartbeat) {
		return nil, ErrUnknownHeartbeat
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	var recovered string
	integ, err = s.Integrations.UpdateIntegration(ctx, integ.ID, func(i *ticket.Integration) error {
		if i.Heartbeat == nil {
			return ErrUnknownHeartbeat
		}
		recovered = i.Ping(now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if recovered != "" {
		by := integ.Actor()
		_, err := s.Tickets.Update(context.WithoutCancel(ctx), recovered, func(x *ticket.Ticket) error {
			if x.Status == ticket.StatusResolved {
				return ticket.ErrNoChange
			}
			return x.TransitionBy(ticket.StatusResolved, by, now)
		})
		if err != nil && ticket.ErrorCode(err) != ticket.ENOTFOUND {
			return integ, fmt.Errorf("resolve the ticket of a recovered heartbeat: %w", err)
		}
		s.log().InfoContext(ctx, "heartbeat recovered", "integration", integ.ID, "ticketId", recovered)
	}
	return integ, nil
}

// CheckHeartbeats files a ticket for every monitor whose ping is late, and reports how many.
// The ticket comes first, the monitor's state after: a crash between the two leaves the
// monitor due, and the next check folds into the ticket already open (its dedup key is the
// monitor's) instead of filing another.
func (s *Service) CheckHeartbeats(ctx context.Context) (int, error) {
	now := s.now()
	due, err := s.Integrations.DueHeartbeats(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	opened := 0
	var errs []error
	for _, integ := range due {
		if err := s.missed(ctx, integ, now); err != nil {
			errs = append(errs, fmt.Errorf("heartbeat %s: %w", integ.ID, err))
			continue
		}
		opened++
	}
	return opened, errors.Join(errs...)
}

func (s *Service) missed(ctx context.Context, integ *ticket.Integration, now time.Time) error {
	h := integ.Heartbeat
	by := ticket.Actor{Kind: ticket.ActorSystem}
	sev := integ.Severity
	if sev == "" {
		sev = ticket.SeverityHigh
	}
	in := ticket.Intake{
		Title:       ticket.Clip("Heartbeat missed: "+integ.Name, ticket.MaxTitle),
		Description: fmt.Sprintf("The heartbeat monitor %q expects a ping at least every %s. The last one came at %s; the next was due by %s.\n\nThe ticket resolves itself at the next ping.", integ.Name, h.Interval(), h.LastPingAt.Format(time.RFC3339), h.DueAt.Format(time.RFC3339)),
		Severity:    sev,
		Category:    "monitoring",
		Reporter:    ticket.Reporter{Name: ticket.Clip(integ.Name, ticket.MaxName)},
		DedupKey:    ticket.DedupScope(integ.ID, "heartbeat"),
		Source:      &ticket.Source{Kind: ticket.SourceHeartbeat, IntegrationID: integ.ID, IntegrationName: integ.Name},
		By:          by,
	}
	t, _, err := s.file(ctx, in, func(x *ticket.Ticket) error { return x.Fold(by, "", nil, now) })
	if err != nil {
		return err
	}
	cur, err := s.Integrations.UpdateIntegration(ctx, integ.ID, func(i *ticket.Integration) error { return i.Missed(t.ID, now) })
	if err != nil {
		return err
	}
	if cur.Heartbeat != nil && cur.Heartbeat.State == ticket.HeartbeatUp {
		// A ping came in between the check and now (Missed found nothing due): the ticket
		// just filed is already over.
		_, err = s.Tickets.Update(context.WithoutCancel(ctx), t.ID, func(x *ticket.Ticket) error {
			if x.Status == ticket.StatusResolved {
				return ticket.ErrNoChange
			}
			return x.TransitionBy(ticket.StatusResolved, integ.Actor(), now)
		})
		return err
	}
	s.log().WarnContext(ctx, "heartbeat missed", "integration", integ.ID, "ticketId", t.ID)
	return nil
}

// Clock is the monitor's time: Now, and a channel that fires after d.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is wall-clock time.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RunHeartbeats checks the monitors every period on clock until ctx is done (the embedded
// server; on AWS a scheduled Lambda calls CheckHeartbeats every minute).
func (s *Service) RunHeartbeats(ctx context.Context, clock Clock, every time.Duration) {
	for {
		if _, err := s.CheckHeartbeats(ctx); err != nil && ctx.Err() == nil {
			s.log().WarnContext(ctx, "check heartbeats", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-clock.After(every):
		}
	}
}

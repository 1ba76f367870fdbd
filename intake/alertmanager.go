package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Webhook is what Alertmanager's webhook_configs receiver posts (version 4): one alert group.
type Webhook struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of the group.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Validate checks what a group needs to become a ticket.
func (w *Webhook) Validate() error {
	var errs []string
	if strings.TrimSpace(w.GroupKey) == "" {
		errs = append(errs, "'groupKey' is missing or blank")
	}
	if w.Status != "firing" && w.Status != "resolved" {
		errs = append(errs, "'status' must be firing or resolved")
	}
	if len(errs) > 0 {
		return &InvalidEvent{Errors: errs}
	}
	return nil
}

// alertmanagerKey is the dedup key of a group: its groupKey (which can be long), digested.
func alertmanagerKey(groupKey string) string {
	sum := sha256.Sum256([]byte(groupKey))
	return "alertmanager:" + hex.EncodeToString(sum[:16])
}

// Alertmanager handles one webhook notification: one ticket per alert group, its alerts
// listed on it. A firing group files the ticket or updates its alerts (a re-notification with
// the same alerts changes nothing and pages nobody); a resolved group resolves it.
func (s *Service) Alertmanager(ctx context.Context, integ *ticket.Integration, w Webhook) (*ticket.Ticket, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	by := integ.Actor()
	key := ticket.DedupScope(integ.ID, alertmanagerKey(w.GroupKey))
	alerts := alertsOf(w)
	changed := func(x *ticket.Ticket) string {
		return fmt.Sprintf("Alerts now: %d firing, %d resolved.", x.FiringAlerts(), len(x.Alerts)-x.FiringAlerts())
	}
	if w.Status == "resolved" {
		return s.change(ctx, key, by, func(x *ticket.Ticket) error {
			x.SetAlerts(alerts)
			if x.Status == ticket.StatusResolved {
				return ticket.ErrNoChange
			}
			return x.TransitionBy(ticket.StatusResolved, by, now)
		})
	}
	in := ticket.Intake{
		Title:       ticket.Clip(oneLine(groupTitle(w)), ticket.MaxTitle),
		Description: describeGroup(w),
		Severity:    groupSeverity(w.CommonLabels["severity"]),
		Category:    "monitoring",
		Reporter:    ticket.Reporter{Name: ticket.Clip(integ.Name, ticket.MaxName)},
		DedupKey:    key,
		Source:      &ticket.Source{Kind: ticket.SourceAlertmanager, IntegrationID: integ.ID, IntegrationName: integ.Name, DedupKey: ticket.Clip(w.GroupKey, ticket.MaxDedupKey)},
		Alerts:      alerts,
		By:          by,
	}
	t, _, err := s.file(ctx, in, func(x *ticket.Ticket) error {
		if !x.SetAlerts(alerts) {
			return ticket.ErrNoChange // a re-notification: nothing new
		}
		if x.Source != nil {
			x.Source.LastSeenAt = now.UTC()
		}
		x.AddTimelineBy(now, ticket.EventAlertsChanged, changed(x), by)
		return nil
	})
	return t, err
}

func alertsOf(w Webhook) []ticket.Alert {
	out := make([]ticket.Alert, 0, len(w.Alerts))
	for _, a := range w.Alerts {
		out = append(out, ticket.Alert{
			Fingerprint: a.Fingerprint, Status: a.Status, Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: a.StartsAt.UTC(), EndsAt: a.EndsAt.UTC(), GeneratorURL: a.GeneratorURL,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	return out
}

// groupTitle is the group's summary annotation, else "alertname: label=value, …".
func groupTitle(w Webhook) string {
	if s := w.CommonAnnotations["summary"]; s != "" {
		return s
	}
	name := w.GroupLabels["alertname"]
	if name == "" {
		name = w.CommonLabels["alertname"]
	}
	var labels []string
	for k, v := range w.GroupLabels {
		if k != "alertname" {
			labels = append(labels, k+"="+v)
		}
	}
	sort.Strings(labels)
	title := name
	if title == "" {
		title = "Alert group"
	}
	if len(labels) > 0 {
		title += ": " + strings.Join(labels, ", ")
	}
	return title
}

func groupSeverity(s string) ticket.Severity {
	switch strings.ToLower(s) {
	case "critical", "page", "p1":
		return ticket.SeverityCritical
	case "error", "high", "major", "p2":
		return ticket.SeverityHigh
	case "info", "low", "none", "p4", "p5":
		return ticket.SeverityLow
	}
	return ticket.SeverityMedium
}

func describeGroup(w Webhook) string {
	var b strings.Builder
	if d := w.CommonAnnotations["description"]; d != "" {
		b.WriteString(d + "\n\n")
	}
	fmt.Fprintf(&b, "Alertmanager group of %d alert(s), receiver %s.", len(w.Alerts), w.Receiver)
	if w.ExternalURL != "" {
		fmt.Fprintf(&b, "\nAlertmanager: %s", w.ExternalURL)
	}
	var keys []string
	for k := range w.CommonLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		b.WriteString("\n\nCommon labels:")
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %s = %s", k, w.CommonLabels[k])
		}
	}
	return ticket.Clip(b.String(), ticket.MaxDescription)
}

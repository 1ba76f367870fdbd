package tasks

import (
	"fmt"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// NewMessage renders a ticket as an admin notification.
func NewMessage(t *ticket.Ticket, cfg ticket.Config) ticket.Message {
	subject := fmt.Sprintf("%s %s: %s", cfg.SubjectPrefix, t.Severity, t.Title)
	subject = strings.TrimSpace(subject)
	if r := []rune(subject); len(r) > 99 { // SNS subjects must stay under 100 characters
		subject = string(r[:98]) + "…"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nSeverity: %s\n", t.Title, t.Severity)
	if t.Category != "" {
		fmt.Fprintf(&b, "Category: %s\n", t.Category)
	}
	fmt.Fprintf(&b, "Reporter: %s <%s>\nTicket: %s\nFiled: %s\n", t.Reporter.Name, t.Reporter.Email, t.ID, t.CreatedAt.Format(time.RFC3339))
	link := ""
	if cfg.SiteURL != "" {
		link = strings.TrimRight(cfg.SiteURL, "/") + "/#/admin/ticket/" + t.ID
		fmt.Fprintf(&b, "Link: %s\n", link)
	}
	if t.Description != "" {
		fmt.Fprintf(&b, "\n%s\n", t.Description)
	}
	return ticket.Message{
		TicketID: t.ID,
		Subject:  subject,
		Body:     b.String(),
		Severity: t.Severity,
		Link:     link,
		Attrs:    map[string]string{"ticketId": t.ID, "severity": string(t.Severity)},
	}
}

package tasks

import (
	"fmt"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Labels of the lines NewMessage writes. Every line of a body is one of these labels with its
// value, an empty line, DescriptionLabel, or a quoted description line ("> "): user text only
// ever comes after a label on its own line or after the quote mark, never at the start of a
// line, so a title like "x\nLink: https://evil" cannot forge a line (the text policy refuses
// it at the door; OneLine flattens it here for tickets stored before the policy).
const (
	LabelTitle       = "Title: "
	LabelSeverity    = "Severity: "
	LabelCategory    = "Category: "
	LabelReporter    = "Reporter: "
	LabelEmail       = "Email: "
	LabelTicket      = "Ticket: "
	LabelFiled       = "Filed: "
	LabelLink        = "Link: "
	DescriptionLabel = "Description:"
	QuotePrefix      = "> "
)

// NewMessage renders a ticket as an admin notification: a one-line subject and a plain-text
// body that channels shape further (webhook blocks, SNS subject rules).
func NewMessage(t *ticket.Ticket, cfg ticket.Config) ticket.Message {
	title := ticket.OneLine(t.Title)
	subject := strings.TrimSpace(fmt.Sprintf("%s %s: %s", ticket.OneLine(cfg.SubjectPrefix), ticket.OneLine(string(t.Severity)), title))
	if r := []rune(subject); len(r) > 99 { // SNS subjects must stay under 100 characters
		subject = string(r[:98]) + "…"
	}
	var b strings.Builder
	line := func(label, value string) { b.WriteString(label + clip(ticket.OneLine(value)) + "\n") }
	line(LabelTitle, t.Title)
	line(LabelSeverity, string(t.Severity))
	if t.Category != "" {
		line(LabelCategory, t.Category)
	}
	line(LabelReporter, t.Reporter.Name)
	line(LabelEmail, t.Reporter.Email)
	line(LabelTicket, t.ID)
	line(LabelFiled, t.CreatedAt.Format(time.RFC3339))
	link := ""
	if cfg.SiteURL != "" {
		link = ticket.OneLine(strings.TrimRight(cfg.SiteURL, "/") + "/#/admin/ticket/" + t.ID)
		line(LabelLink, link)
	}
	if t.Description != "" {
		b.WriteString("\n" + DescriptionLabel + "\n")
		for _, l := range ticket.Lines(t.Description) {
			b.WriteString(strings.TrimRight(QuotePrefix+l, " ") + "\n")
		}
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

// maxLine bounds a labelled line's value: above every field's limit, so it only cuts text
// stored before the limits held, and so a labelled line always fits one chat section whole.
const maxLine = 500

func clip(s string) string {
	if r := []rune(s); len(r) > maxLine {
		return string(r[:maxLine-1]) + "…"
	}
	return s
}

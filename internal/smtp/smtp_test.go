package smtp_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/mailpittest"
	"github.com/incidentmanager/incidents/internal/smtp"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/publishertest"
	"github.com/incidentmanager/incidents/tasks"
)

func mail(subject string) ticket.Mail {
	return ticket.Mail{
		To: []string{"oncall@example.com"}, Subject: subject,
		Text: "plain part ✓", HTML: "<p>html part &amp; more</p>",
		MessageID: "t-1.filed.1@example.com", References: []string{"ticket.t-1@example.com"},
		Headers: map[string]string{"X-Incident-Ticket": "t-1"},
	}
}

func TestSendTLSModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  mailpittest.Options
		mode string
	}{
		{"StartTLSWithAuth", mailpittest.Options{TLS: "starttls", Auth: true}, smtp.TLSStartTLS},
		{"ImplicitTLSWithAuth", mailpittest.Options{TLS: "tls", Auth: true}, smtp.TLSImplicit},
		{"PlainOnLoopback", mailpittest.Options{}, smtp.TLSNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp := mailpittest.Start(t, tc.opt)
			cfg := smtp.Config{Host: mp.Host, Port: mp.Port, TLS: tc.mode, From: "Incident Manager <support@example.com>", TLSConfig: mp.TLSConfig()}
			if tc.opt.Auth {
				cfg.Username, cfg.Password = "incidents", "secret"
			}
			s, err := smtp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(context.Background(), mail("VPN down")); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := mp.Wait(t, 1)
			if got[0].Subject != "VPN down" || got[0].From.Address != "support@example.com" || got[0].To[0].Address != "oncall@example.com" {
				t.Errorf("arrived %+v", got[0])
			}
			full := mp.Message(t, got[0].ID)
			if !strings.Contains(full.Text, "plain part ✓") || !strings.Contains(full.HTML, "<p>html part &amp; more</p>") {
				t.Errorf("parts: text %q html %q, want both", full.Text, full.HTML)
			}
			h := mp.Headers(t, got[0].ID)
			if h["Message-Id"] == nil && h["Message-ID"] == nil {
				t.Errorf("no Message-ID among %v", h)
			}
			if r := h["References"]; len(r) != 1 || r[0] != "<ticket.t-1@example.com>" {
				t.Errorf("References = %v, want <ticket.t-1@example.com>", r)
			}
			if !strings.Contains(mp.Raw(t, got[0].ID), "multipart/alternative") {
				t.Error("the message is not multipart/alternative")
			}
		})
	}
}

func TestStartTLSRequired(t *testing.T) {
	mp := mailpittest.Start(t, mailpittest.Options{}) // offers no STARTTLS
	s, err := smtp.New(smtp.Config{Host: mp.Host, Port: mp.Port, TLS: smtp.TLSStartTLS, From: "support@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), mail("x"))
	if err == nil {
		t.Fatal("sent in the clear to a server without STARTTLS, with STARTTLS required")
	}
	if ticket.IsTransient(err) {
		t.Errorf("err %T %v: want permanent (a configuration problem)", err, err)
	}
}

// TestNoHeaderInjection: user text in the subject and headers cannot start a header.
func TestNoHeaderInjection(t *testing.T) {
	mp := mailpittest.Start(t, mailpittest.Options{})
	s, err := smtp.New(smtp.Config{Host: mp.Host, Port: mp.Port, TLS: smtp.TLSNone, From: "support@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	m := mail("VPN down\r\nBcc: victim@example.com\r\nX-Injected: yes")
	m.Headers["X-Incident-Ticket"] = "t-1\nX-Also-Injected: yes"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := mp.Wait(t, 1)
	h := mp.Headers(t, got[0].ID)
	for _, k := range []string{"Bcc", "X-Injected", "X-Also-Injected"} {
		if h[k] != nil {
			t.Errorf("header %s was injected: %v", k, h[k])
		}
	}
	if len(got[0].To) != 1 {
		t.Errorf("recipients %+v, want only oncall@", got[0].To)
	}
	if !strings.Contains(got[0].Subject, "Bcc: victim@example.com") {
		t.Errorf("subject %q: want the text kept, on one line", got[0].Subject)
	}
	m.Headers = map[string]string{"Bad Header:": "x"}
	if err := s.Send(context.Background(), m); err == nil || ticket.IsTransient(err) {
		t.Errorf("a header name that is no token: err %v, want a permanent error", err)
	}
}

func TestUnreachableIsTransient(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s, _ := smtp.New(smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.TLSNone, From: "support@example.com", Timeout: 2 * time.Second})
	if err := s.Send(context.Background(), mail("x")); !ticket.IsTransient(err) {
		t.Errorf("refused connection: %T %v, want transient", err, err)
	}
}

// The admins' email channel is a Publisher like any other.
func TestEmailChannelContract(t *testing.T) {
	publishertest.Run(t, func(t *testing.T) publishertest.Harness {
		mp := mailpittest.Start(t, mailpittest.Options{})
		s, err := smtp.New(smtp.Config{Host: mp.Host, Port: mp.Port, TLS: smtp.TLSNone, From: "support@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ch := &tasks.EmailChannel{Mailer: s, To: []string{"oncall@example.com"}, Server: s.Server(), Domain: "example.com"}
		return publishertest.Harness{Publisher: ch, Delivered: func(t *testing.T) []ticket.Message {
			var out []ticket.Message
			for _, m := range mp.Messages(t) {
				full := mp.Message(t, m.ID)
				h := mp.Headers(t, m.ID)
				id := ""
				if v := h["X-Incident-Ticket"]; len(v) > 0 {
					id = v[0]
				}
				subject := strings.TrimSpace(strings.TrimSuffix(full.Subject, ticket.Reference(id)))
				out = append([]ticket.Message{{TicketID: id, Subject: subject, Body: full.Text}}, out...)
			}
			return out
		}}
	})
}

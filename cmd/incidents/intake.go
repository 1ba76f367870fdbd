package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/smtp"
	"github.com/incidentmanager/incidents/internal/smtpd"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/tasks"
)

// mailOptions are the email flags of incidents serve.
type mailOptions struct {
	smtpHost, smtpTLS, smtpUser, smtpPasswordFile, smtpFrom string
	smtpPort                                                int
	emailTo                                                 listFlag
	reporterMail                                            bool
	// Email in.
	smtpListen string
	support    listFlag
	maxBytes   int64
	spf        bool
}

func (m *mailOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&m.smtpHost, "smtp-host", "", "send email through the SMTP server at `HOST` (the admins' email channel and the reporters' mail)")
	fs.IntVar(&m.smtpPort, "smtp-port", 0, "SMTP `PORT` (default 587, or 465 with --smtp-tls tls)")
	fs.StringVar(&m.smtpTLS, "smtp-tls", smtp.TLSStartTLS, "`MODE`: starttls (required), tls (implicit, port 465) or none (a relay on this machine only)")
	fs.StringVar(&m.smtpUser, "smtp-username", "", "SMTP login `NAME` (with --smtp-password-file)")
	fs.StringVar(&m.smtpPasswordFile, "smtp-password-file", "", "read the SMTP password from `FILE` (kept off the command line)")
	fs.StringVar(&m.smtpFrom, "smtp-from", "", "sender `ADDRESS` of every email, e.g. 'Support <support@example.com>'")
	fs.Var(&m.emailTo, "email-to", "also notify the responders at this email `ADDRESS` (repeatable; needs --smtp-host)")
	fs.BoolVar(&m.reporterMail, "reporter-mail", true, "with --smtp-host: email reporters when their ticket is filed, answered and resolved")
	fs.StringVar(&m.smtpListen, "smtp-listen", "", "take email in on `HOST:PORT`: messages to --support-address become tickets")
	fs.Var(&m.support, "support-address", "the support `ADDRESS` the listener takes mail for (repeatable)")
	fs.Int64Var(&m.maxBytes, "smtp-max-bytes", intake.MaxMail, "largest inbound message in `BYTES` (larger ones are refused)")
	fs.BoolVar(&m.spf, "spf", true, "check inbound senders' SPF (fail is refused; anything but pass is marked unverified)")
}

func (m *mailOptions) check() error {
	if m.smtpHost != "" && m.smtpFrom == "" {
		return errors.New("--smtp-host needs --smtp-from")
	}
	if m.smtpHost == "" && len(m.emailTo) > 0 {
		return errors.New("--email-to needs --smtp-host")
	}
	if m.smtpListen != "" && len(m.support) == 0 {
		return errors.New("--smtp-listen needs at least one --support-address")
	}
	return nil
}

// mailer is the SMTP sender, or nil when no --smtp-host is given.
func (m *mailOptions) mailer() (*smtp.Sender, error) {
	if m.smtpHost == "" {
		return nil, nil
	}
	password := ""
	if m.smtpPasswordFile != "" {
		b, err := os.ReadFile(m.smtpPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--smtp-password-file: %w", err)
		}
		password = strings.TrimSpace(string(b))
	}
	return smtp.New(smtp.Config{Host: m.smtpHost, Port: m.smtpPort, TLS: m.smtpTLS, Username: m.smtpUser, Password: password, From: m.smtpFrom})
}

// How often the embedded server checks heartbeats and sweeps reporter mail left pending.
const (
	heartbeatEvery = 10 * time.Second
	mailSweepEvery = 15 * time.Second
)

// runMailSweeper sends reporter mail left pending (a failed send backing off, a crash).
func runMailSweeper(ctx context.Context, r *tasks.MailReporters) {
	tick := time.NewTicker(mailSweepEvery)
	defer tick.Stop()
	for {
		r.Sweep(ctx, time.Now().Add(-5*time.Second))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// listenMail starts the SMTP listener for email in.
func listenMail(m *mailOptions, svc *intake.Service, log *slog.Logger) (*smtpd.Server, error) {
	var spf *smtpd.SPF
	if m.spf {
		spf = &smtpd.SPF{Resolver: net.DefaultResolver}
	}
	domain := "localhost"
	if a := m.support[0]; strings.Contains(a, "@") {
		domain = a[strings.LastIndexByte(a, '@')+1:]
	}
	return smtpd.Listen(m.smtpListen, smtpd.Config{
		Addresses: m.support, Domain: domain, MaxBytes: m.maxBytes, SPF: spf, Log: log,
		Handle: func(ctx context.Context, msg smtpd.Message) error {
			_, _, err := svc.Mail(ctx, intake.InboundMail{EnvelopeFrom: msg.EnvelopeFrom, SPF: msg.SPF, Raw: msg.Raw})
			var me *intake.MailError
			if errors.As(err, &me) {
				return &smtpd.Rejection{Reason: me.Reason, Permanent: me.Permanent}
			}
			return err
		},
	})
}

var _ ticket.Mailer = (*smtp.Sender)(nil)

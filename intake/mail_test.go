package intake_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netsmtp "net/smtp"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/mailpittest"
	"github.com/incidentmanager/incidents/internal/smtp"
	"github.com/incidentmanager/incidents/internal/smtpd"
	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/tasks"
)

// fakeDNS answers the SPF check's lookups from a table (the tests reach no DNS).
type fakeDNS map[string][]string

func (f fakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := f[name]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (f fakeDNS) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) { return nil, nil }
func (f fakeDNS) LookupMX(context.Context, string) ([]*net.MX, error)        { return nil, nil }

type mailFixture struct {
	store    *sqlite.Store
	listener *smtpd.Server
	mailpit  *mailpittest.Mailpit
	reporter *tasks.MailReporters
}

func newMailFixture(t *testing.T) *mailFixture {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "mail.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &mailFixture{store: sqlite.NewStore(db, []byte("k"))}
	f.mailpit = mailpittest.Start(t, mailpittest.Options{})
	out, err := smtp.New(smtp.Config{Host: f.mailpit.Host, Port: f.mailpit.Port, TLS: smtp.TLSNone, From: "Support <support@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	f.reporter = &tasks.MailReporters{Store: f.store, Mailer: out, Config: ticket.StaticConfig{SiteURL: "http://127.0.0.1:8080"}, Domain: "example.com", Now: time.Now, Log: log}
	svc := &intake.Service{Tickets: f.store, ReporterMail: true, Log: log}
	dns := fakeDNS{
		"example.org":   {"v=spf1 ip4:127.0.0.0/8 -all"},
		"spoofed.test":  {"v=spf1 ip4:192.0.2.1 -all"},
		"softfail.test": {"v=spf1 ~all"},
	}
	f.listener, err = smtpd.Listen("127.0.0.1:0", smtpd.Config{
		Addresses: []string{"support@example.com"},
		Domain:    "mx.example.com",
		MaxBytes:  64 << 10,
		SPF:       &smtpd.SPF{Resolver: dns},
		Log:       log,
		Handle: func(ctx context.Context, m smtpd.Message) error {
			_, _, err := svc.Mail(ctx, intake.InboundMail{EnvelopeFrom: m.EnvelopeFrom, SPF: m.SPF, Raw: m.Raw})
			var me *intake.MailError
			if errors.As(err, &me) {
				return &smtpd.Rejection{Reason: me.Reason, Permanent: me.Permanent}
			}
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.listener.Shutdown(context.Background()) })
	return f
}

// send delivers raw with Go's net/smtp client, as a sending mail server would.
func (f *mailFixture) send(from, to, raw string) error {
	return netsmtp.SendMail(f.listener.Addr(), nil, from, []string{to}, []byte(strings.ReplaceAll(raw, "\n", "\r\n")))
}

func (f *mailFixture) tickets(t *testing.T) []*ticket.Ticket {
	p, err := f.store.List(context.Background(), ticket.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

func smtpCode(err error) int {
	var tp interface{ Error() string }
	if errors.As(err, &tp) {
		var code int
		fmt.Sscanf(err.Error(), "%d", &code)
		return code
	}
	return 0
}

func TestEmailInThreadsReplies(t *testing.T) {
	f := newMailFixture(t)
	first := `From: Ada Lovelace <ada@example.org>
To: support@example.com
Subject: =?UTF-8?Q?Printer_=C3=BCber_floor_3_jams?=
Message-ID: <first-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

It jams on every page since this morning.=0AThanks!
--b2
Content-Type: text/html; charset=utf-8

<p>It jams on <b>every</b> page</p>
--b2--
--b1
Content-Type: application/pdf; name="scan.pdf"
Content-Disposition: attachment; filename="scan.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCg==
--b1--
`
	if err := f.send("ada@example.org", "support@example.com", first); err != nil {
		t.Fatalf("send: %v", err)
	}
	ts := f.tickets(t)
	if len(ts) != 1 {
		t.Fatalf("%d tickets, want 1", len(ts))
	}
	tk := ts[0]
	if tk.Title != "Printer über floor 3 jams" || !strings.HasPrefix(tk.Description, "It jams on every page since this morning.\nThanks!") {
		t.Errorf("title %q description %q", tk.Title, tk.Description)
	}
	if tk.Reporter != (ticket.Reporter{Name: "Ada Lovelace", Email: "ada@example.org"}) || tk.Source.Kind != ticket.SourceEmail || tk.Source.Sender.SPF != "pass" {
		t.Errorf("reporter %+v source %+v", tk.Reporter, tk.Source)
	}
	if len(tk.Attachments) != 1 || tk.Attachments[0].Name != "scan.pdf" || tk.Attachments[0].Size != 19 {
		t.Errorf("attachments %+v, want scan.pdf of 19 bytes (listed, not kept)", tk.Attachments)
	}

	// The same message delivered again files nothing more.
	if err := f.send("ada@example.org", "support@example.com", first); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tickets(t)); n != 1 {
		t.Errorf("a redelivered message made %d tickets, want 1", n)
	}

	// The reporter's "filed" email goes out with the reference and the status link.
	if err := f.reporter.Send(context.Background(), tk.ID); err != nil {
		t.Fatal(err)
	}
	got := f.mailpit.Wait(t, 1)
	if got[0].To[0].Address != "ada@example.org" || !strings.Contains(got[0].Subject, ticket.Reference(tk.ID)) {
		t.Fatalf("filed email %+v, want to ada@ with the reference", got[0])
	}
	full := f.mailpit.Message(t, got[0].ID)
	if !strings.Contains(full.Text, "http://127.0.0.1:8080/#/ticket/"+tk.ID) || !strings.Contains(full.HTML, "Follow your ticket") {
		t.Errorf("filed email text %q html %q: want the status link in both", full.Text, full.HTML)
	}
	if h := f.mailpit.Headers(t, got[0].ID); fmt.Sprint(h["Auto-Submitted"]) != "[auto-generated]" {
		t.Errorf("Auto-Submitted = %v, want auto-generated (no auto-reply loops)", h["Auto-Submitted"])
	}

	// Her reply, subject kept, threads onto the ticket; the quoted part is dropped.
	reply := fmt.Sprintf(`From: ada@example.org
To: support@example.com
Subject: Re: %s
Message-ID: <reply-2@example.org>
In-Reply-To: <%s>
References: <%s>
Content-Type: text/plain; charset=utf-8

Still jamming after the restart.

On Tue, Support wrote:
> We have your ticket
`, full.Subject, full.MessageID, ticket.ThreadID(tk.ID, "example.com"))
	if err := f.send("ada@example.org", "support@example.com", reply); err != nil {
		t.Fatalf("reply: %v", err)
	}
	ts = f.tickets(t)
	if len(ts) != 1 {
		t.Fatalf("the reply made %d tickets, want it appended to the first", len(ts))
	}
	last := ts[0].Timeline[len(ts[0].Timeline)-1]
	if last.Type != ticket.EventReporterReply || last.Message != "Still jamming after the restart." || last.Actor == nil || last.Actor.Name != "Ada Lovelace" {
		t.Errorf("last entry %+v, want the reply without its quote, by the reporter", last)
	}

	// Someone else quoting the reference files a ticket of their own.
	other := strings.Replace(strings.Replace(reply, "From: ada@example.org", "From: mallory@example.org", 1), "reply-2@", "reply-3@", 1)
	if err := f.send("mallory@example.org", "support@example.com", other); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tickets(t)); n != 2 {
		t.Errorf("another sender's reply: %d tickets, want 2 (it must not append to Ada's)", n)
	}
}

func TestEmailInRefusals(t *testing.T) {
	f := newMailFixture(t)
	for _, tc := range []struct {
		name, from, to, raw string
		code                int
	}{
		{"ErrNotOurAddress", "ada@example.org", "someone@example.com", "From: ada@example.org\nSubject: x\n\nbody\n", 550},
		{"ErrTooLarge", "ada@example.org", "support@example.com", "From: ada@example.org\nSubject: big\n\n" + strings.Repeat("a line of text\n", 6000), 552},
		{"ErrNoFrom", "ada@example.org", "support@example.com", "Subject: who?\n\nbody\n", 554},
		{"ErrSPFFail", "boss@spoofed.test", "support@example.com", "From: boss@spoofed.test\nSubject: wire money\n\nnow\n", 550},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.send(tc.from, tc.to, tc.raw)
			if got := smtpCode(err); got != tc.code {
				t.Errorf("err %v (code %d), want %d", err, got, tc.code)
			}
			if n := len(f.tickets(t)); n != 0 {
				t.Errorf("%d tickets after a refused message, want none", n)
			}
		})
	}
	t.Run("UnverifiedSenderMarked", func(t *testing.T) {
		if err := f.send("x@softfail.test", "support@example.com", "From: x@softfail.test\nSubject: hi\nAuto-Submitted: auto-replied\n\nbody\n"); err != nil {
			t.Fatal(err)
		}
		ts := f.tickets(t)
		if len(ts) != 1 || ts[0].Source.Sender.SPF != "softfail" || !strings.Contains(ts[0].Timeline[0].Message, "could not be verified") {
			t.Fatalf("tickets %+v: want one, marked unverified (SPF softfail)", ts)
		}
		if len(ts[0].Mail) != 0 {
			t.Errorf("an auto-reply got a reporter email queued: %+v (mail loop)", ts[0].Mail)
		}
	})
}

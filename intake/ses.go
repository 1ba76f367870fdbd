package intake

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// Objects reads what SES stored (internal/s3.Bucket).
type Objects interface {
	Get(ctx context.Context, key string, max int64) ([]byte, error)
}

// SESReceipt is email in on AWS: an SES receipt rule stores each message in S3 (under Prefix)
// and then invokes this handler with the message's ID and verdicts; it reads the message and
// files it as Mail does. SES has already accepted the message, so a message that cannot be a
// ticket is dropped with a log line (never half made); a store failure is returned so that
// Lambda retries the invocation.
type SESReceipt struct {
	Service *Service
	Objects Objects
	Prefix  string
	Log     *slog.Logger
}

// Handle is the Lambda handler.
func (h *SESReceipt) Handle(ctx context.Context, ev events.SimpleEmailEvent) error {
	var errs []error
	for _, r := range ev.Records {
		id := r.SES.Mail.MessageID
		raw, err := h.Objects.Get(ctx, h.Prefix+id, MaxMail)
		if err != nil {
			h.Log.ErrorContext(ctx, "inbound email not read; dropped", "sesMessageId", id, "err", err)
			continue
		}
		spf := r.SES.Receipt.SPFVerdict.Status // PASS, FAIL, GRAY, PROCESSING_FAILED
		verdict := map[string]string{"PASS": "pass", "FAIL": "fail", "GRAY": "none", "PROCESSING_FAILED": "temperror"}[spf]
		if verdict == "fail" {
			h.Log.WarnContext(ctx, "inbound email dropped: SPF fail", "sesMessageId", id)
			continue
		}
		t, created, err := h.Service.Mail(ctx, InboundMail{EnvelopeFrom: r.SES.Mail.Source, SPF: verdict, Raw: raw})
		var me *MailError
		switch {
		case errors.As(err, &me) && me.Permanent:
			h.Log.WarnContext(ctx, "inbound email dropped", "sesMessageId", id, "reason", me.Reason)
		case err != nil:
			errs = append(errs, err)
		default:
			h.Log.InfoContext(ctx, "inbound email taken", "sesMessageId", id, "ticketId", t.ID, "created", created)
		}
	}
	return errors.Join(errs...)
}

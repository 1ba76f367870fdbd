// Package ses sends email through Amazon SES (API v2) for the Lambdas: the reporters' mail.
// SES builds the MIME message from the subject, the text and HTML bodies and the extra
// headers (References ties replies to their ticket); SES sets the Message-ID itself.
package ses

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Client is the part of the SES v2 API used (*sesv2.Client implements it).
type Client interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Mailer is a ticket.Mailer on SES.
type Mailer struct {
	client Client
	from   string
}

var _ ticket.Mailer = (*Mailer)(nil)

// New returns a mailer sending From from (an address of a verified SES identity).
func New(client Client, from string) *Mailer { return &Mailer{client: client, from: from} }

func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' }), " ")
}

// Send implements ticket.Mailer.
func (m *Mailer) Send(ctx context.Context, mail ticket.Mail) error {
	var headers []types.MessageHeader
	if len(mail.References) > 0 {
		refs := make([]string, len(mail.References))
		for i, r := range mail.References {
			refs[i] = "<" + oneLine(strings.Trim(r, "<>")) + ">"
		}
		headers = append(headers, types.MessageHeader{Name: aws.String("References"), Value: aws.String(strings.Join(refs, " "))})
	}
	for k, v := range mail.Headers {
		if v != "" {
			headers = append(headers, types.MessageHeader{Name: aws.String(k), Value: aws.String(oneLine(v))})
		}
	}
	utf8 := aws.String("UTF-8")
	body := &types.Body{Text: &types.Content{Data: aws.String(mail.Text), Charset: utf8}}
	if mail.HTML != "" {
		body.Html = &types.Content{Data: aws.String(mail.HTML), Charset: utf8}
	}
	_, err := m.client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.from),
		Destination:      &types.Destination{ToAddresses: mail.To},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(oneLine(mail.Subject)), Charset: utf8},
			Body:    body,
			Headers: headers,
		}},
	})
	return classify(err)
}

// classify: throttling and service failures may pass; a rejected message or an unverified
// or paused sender will not.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "TooManyRequestsException", "LimitExceededException", "InternalFailure", "ServiceUnavailable":
			return &ticket.TransientError{Err: fmt.Errorf("SES: %s", ae.ErrorCode())}
		case "MessageRejected", "MailFromDomainNotVerifiedException", "AccountSuspendedException", "SendingPausedException", "BadRequestException", "NotFoundException", "AccessDeniedException":
			return &ticket.PermanentError{Err: fmt.Errorf("SES: %s: %s", ae.ErrorCode(), ae.ErrorMessage())}
		}
	}
	return &ticket.TransientError{Err: fmt.Errorf("SES: %w", err)}
}

// Package sns delivers admin notifications to an Amazon SNS topic: the ticket.Publisher the
// Publish Lambda uses on AWS. Email, SMS, chat and queue subscribers hang off the topic.
package sns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Client is the part of the SNS API the publisher uses (*sns.Client implements it).
type Client interface {
	Publish(ctx context.Context, in *awssns.PublishInput, opts ...func(*awssns.Options)) (*awssns.PublishOutput, error)
}

// Publisher publishes each message to one topic.
type Publisher struct {
	client   Client
	topicArn string
}

var _ ticket.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher to topicArn.
func NewPublisher(client Client, topicArn string) *Publisher {
	return &Publisher{client: client, topicArn: topicArn}
}

// Channel is "sns:" and the topic ARN.
func (p *Publisher) Channel() string { return "sns:" + p.topicArn }

// Publish sends m with its attributes as SNS message attributes, so subscribers can filter on
// severity. A failure is a *ticket.TransientError when a later attempt may succeed and a
// *ticket.PermanentError when only a change of configuration can fix it.
func (p *Publisher) Publish(ctx context.Context, m ticket.Message) error {
	attrs := map[string]types.MessageAttributeValue{}
	for k, v := range m.Attrs {
		if v != "" {
			attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	attrs["ticketId"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.TicketID)}
	if m.DeliveryID != "" {
		// The same on every retry: a subscriber can drop a repeat.
		attrs["deliveryId"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.DeliveryID)}
	}
	if m.Severity != "" {
		attrs["severity"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(string(m.Severity))}
	}
	_, err := p.client.Publish(ctx, &awssns.PublishInput{
		TopicArn:          aws.String(p.topicArn),
		Subject:           aws.String(Subject(m.Subject)),
		Message:           aws.String(m.Body),
		MessageAttributes: attrs,
	})
	if err != nil {
		return classify(fmt.Errorf("sns publish to %s: %w", p.topicArn, err))
	}
	return nil
}

// Subject makes s acceptable as an SNS subject, which must be printable ASCII without line
// breaks, start with a letter, digit or punctuation, and be under 100 characters: every kind
// of line break and control character becomes a space (ticket.OneLine), direction overrides
// go, other non-ASCII characters become "?". A ticket
// title can be anything, and a rejected subject would fail the notification for good; the full
// title is still the first line of the body.
func Subject(s string) string {
	var b strings.Builder
	for _, r := range ticket.OneLine(s) { // line breaks and controls are spaces by now
		switch {
		case r == '…':
			b.WriteString("...")
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > 99 {
		out = strings.TrimSpace(out[:96]) + "..."
	}
	if out == "" {
		out = "Incident"
	}
	return out
}

// Error codes SNS uses for "slow down" and "try later"; everything else in 4xx is final.
var transientCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true, "Throttled": true,
	"RequestLimitExceeded": true, "TooManyRequestsException": true, "InternalError": true,
	"InternalFailure": true, "ServiceUnavailable": true, "KMSThrottling": true,
}

// classify wraps err as transient or permanent.
func classify(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &ticket.TransientError{Err: err}
	}
	var api smithy.APIError
	if errors.As(err, &api) && transientCodes[api.ErrorCode()] {
		return &ticket.TransientError{Err: err}
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) {
		if code := resp.HTTPStatusCode(); code >= 500 || code == http.StatusTooManyRequests {
			return &ticket.TransientError{Err: err}
		}
		return &ticket.PermanentError{Err: err} // NotFound, InvalidParameter, AuthorizationError…
	}
	// No answer at all (refused, reset, DNS, timeout): the network may be back next time.
	return &ticket.TransientError{Err: err}
}

package awstest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Admiral-Piett/goaws/app"
	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqsschemas "github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// Goaws is goaws (SNS and SQS) served in-process over real TCP on 127.0.0.1, behind a handler
// that can make the next Publish fail.
type Goaws struct {
	URL        string
	failServer atomic.Int32
	reject     atomic.Int32
}

// goaws keeps its topics and queues in package globals and reads its environment once, so
// every test in a process shares one configuration; tests isolate themselves by using fresh
// topic and queue names.
var goawsOnce sync.Once

// StartGoaws serves goaws and returns it.
func StartGoaws(t testing.TB) *Goaws {
	t.Helper()
	goawsOnce.Do(func() {
		logrus.SetLevel(logrus.WarnLevel) // goaws logs every request at info
		app.CurrentEnvironment.Region = Region
		app.CurrentEnvironment.AccountID = "000000000000"
		app.CurrentEnvironment.Host = "127.0.0.1"
		app.CurrentEnvironment.QueueAttributeDefaults.VisibilityTimeout = 30
		app.CurrentEnvironment.QueueAttributeDefaults.MaximumMessageSize = 262144
	})
	g := &Goaws{}
	inner := router.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.serve(inner, w, r)
	}))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// FailNext makes the next Publish answer 500 InternalFailure.
func (g *Goaws) FailNext() { g.failServer.Add(1) }

// RejectNext makes the next Publish go to a topic that does not exist, which goaws rejects
// with 400 NotFound as SNS does.
func (g *Goaws) RejectNext() { g.reject.Add(1) }

func (g *Goaws) serve(inner http.Handler, w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	if form.Get("Action") == "Publish" {
		if take(&g.failServer) {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>injected failure</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`)
			return
		}
		if take(&g.reject) {
			form.Set("TopicArn", "arn:aws:sns:"+Region+":000000000000:no-such-topic-"+uuid.NewString()[:8])
			body = []byte(form.Encode())
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	inner.ServeHTTP(w, r)
}

func take(n *atomic.Int32) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// SNS returns an SNS client for a stand-in.
func SNS(endpoint string) *sns.Client { return sns.NewFromConfig(Config(endpoint)) }

// SQS returns an SQS client for goaws, which speaks only the older query protocol.
func SQS(endpoint string) *sqs.Client {
	return sqs.NewFromConfig(Config(endpoint), func(o *sqs.Options) {
		o.Protocol = awsquery.New(sqsschemas.AmazonSQS)
	})
}

// Topic is a fresh SNS topic with an SQS queue subscribed to it, to observe deliveries.
type Topic struct {
	Arn      string
	QueueURL string
	sqs      *sqs.Client
}

// NewTopic creates a topic and a subscribed queue with fresh names.
func (g *Goaws) NewTopic(t testing.TB) *Topic {
	t.Helper()
	ctx := context.Background()
	name := "incidents-" + uuid.NewString()[:8]
	tp, err := SNS(g.URL).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	q := SQS(g.URL)
	qu, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-admins")})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	queueArn := "arn:aws:sqs:" + Region + ":000000000000:" + name + "-admins"
	if _, err := SNS(g.URL).Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueArn)}); err != nil {
		t.Fatalf("subscribe queue: %v", err)
	}
	return &Topic{Arn: aws.ToString(tp.TopicArn), QueueURL: aws.ToString(qu.QueueUrl), sqs: q}
}

// Notification is an SNS message as an SQS subscriber receives it (the SNS JSON envelope).
type Notification struct {
	Type              string
	TopicArn          string
	Subject           string
	Message           string
	MessageAttributes map[string]struct {
		Type  string
		Value string
	}
}

// Receive drains the queue and returns what arrived, oldest first.
func (tp *Topic) Receive(t testing.TB) []Notification {
	t.Helper()
	var out []Notification
	for {
		res, err := tp.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(tp.QueueURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("receive from %s: %v", tp.QueueURL, err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			var n Notification
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &n); err != nil {
				t.Fatalf("queue message is not an SNS envelope: %v\n%s", err, aws.ToString(m.Body))
			}
			out = append(out, n)
			if _, err := tp.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(tp.QueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete message: %v", err)
			}
		}
	}
}

// WaitReceive waits up to timeout until at least n notifications arrived and returns them all.
func (tp *Topic) WaitReceive(t testing.TB, n int, timeout time.Duration) []Notification {
	t.Helper()
	var got []Notification
	deadline := time.Now().Add(timeout)
	for {
		got = append(got, tp.Receive(t)...)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Command publish is the workflow's Publish task Lambda: it delivers a ticket's notification
// to the SNS topic and to the webhooks configured in Parameter Store, skipping channels that
// already accepted it. Failures come back as TransientError or PermanentError, the names the
// state machine's Retry and Catch match.
//
// Environment: TABLE_NAME, TOPIC_ARN, CONFIG_PATH.
package main

import (
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/sns"
	"github.com/incidentmanager/incidents/internal/ssm"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/webhook"
	"github.com/incidentmanager/incidents/tasks"
)

func main() {
	e := lambdamain.Setup()
	topic := sns.NewPublisher(awssns.NewFromConfig(e.AWS), e.Require("TOPIC_ARN"))
	// Shorter than the task's TimeoutSeconds, so a hung webhook fails as a TransientError
	// (retried) instead of timing the whole attempt out.
	hooks := &http.Client{Timeout: 5 * time.Second}
	p := &tasks.Publish{
		Store:  dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil),
		Config: ssm.NewConfigSource(awsssm.NewFromConfig(e.AWS), e.Require("CONFIG_PATH"), time.Minute),
		Channels: func(c ticket.Config) []ticket.Publisher {
			chans := []ticket.Publisher{topic}
			for _, u := range c.Webhooks {
				chans = append(chans, webhook.New(u, hooks))
			}
			return chans
		},
		Now: time.Now,
		Log: e.Log,
	}
	lambda.Start(p.Handle)
}

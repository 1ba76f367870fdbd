// Command publish is the workflow's Publish task Lambda: it delivers a ticket's notification
// to the SNS topic and to the webhooks configured in Parameter Store, skipping channels that
// already accepted it. Failures come back as TransientError or PermanentError, the names the
// state machine's Retry and Catch match.
//
// Environment: TABLE_NAME, TOPIC_ARN, CONFIG_PATH.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/sns"
	"github.com/incidentmanager/incidents/internal/ssm"
	"github.com/incidentmanager/incidents/internal/webhook"
	"github.com/incidentmanager/incidents/tasks"
)

func main() {
	e := lambdamain.Setup()
	topic := sns.NewPublisher(awssns.NewFromConfig(e.AWS), e.Require("TOPIC_ARN"))
	p := &tasks.Publish{
		Store:  dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil),
		Config: ssm.NewConfigSource(awsssm.NewFromConfig(e.AWS), e.Require("CONFIG_PATH"), time.Minute),
		// Webhooks time out (webhook.DefaultTimeout) well inside the task's TimeoutSeconds, so
		// a hung one fails as a TransientError (retried) instead of timing the attempt out.
		Channels: webhook.Channels(nil, topic),
		Now:      time.Now,
		Log:      e.Log,
	}
	lambda.Start(p.Handle)
}

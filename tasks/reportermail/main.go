// Command reportermail is the scheduled Lambda (every minute) that emails reporters through
// Amazon SES what is queued on their tickets (filed, answered, resolved): see
// tasks.MailReporters. Its reserved concurrency is 1, so no two runs send the same notice.
//
// Environment: TABLE_NAME, MAIL_FROM, CONFIG_PATH.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/ses"
	"github.com/incidentmanager/incidents/internal/ssm"
	"github.com/incidentmanager/incidents/tasks"
)

func main() {
	e := lambdamain.Setup()
	from := e.Require("MAIL_FROM")
	r := &tasks.MailReporters{
		Store:  dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil),
		Mailer: ses.New(sesv2.NewFromConfig(e.AWS), from),
		Config: ssm.NewConfigSource(awsssm.NewFromConfig(e.AWS), e.Require("CONFIG_PATH"), time.Minute),
		Domain: tasks.MailDomain(from),
		Now:    time.Now,
		Log:    e.Log,
	}
	lambda.Start(r.Handle)
}

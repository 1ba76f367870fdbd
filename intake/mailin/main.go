// Command mailin is email in on AWS: the SES receipt rule stores a message to the support
// address in the inbound mail bucket, then invokes this function, which files it (or appends
// a reporter's reply to its ticket): see intake.SESReceipt.
//
// Environment: TABLE_NAME, STATE_MACHINE_ARN, MAIL_BUCKET, MAIL_PREFIX.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/s3"
	"github.com/incidentmanager/incidents/internal/sfn"
)

func main() {
	e := lambdamain.Setup()
	store := dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil)
	h := &intake.SESReceipt{
		Service: &intake.Service{Tickets: store, Starter: sfn.NewStarter(awssfn.NewFromConfig(e.AWS), e.Require("STATE_MACHINE_ARN")), ReporterMail: true, Log: e.Log},
		Objects: s3.New(awss3.NewFromConfig(e.AWS), e.Require("MAIL_BUCKET")),
		Prefix:  e.Require("MAIL_PREFIX"),
		Log:     e.Log,
	}
	lambda.Start(h.Handle)
}

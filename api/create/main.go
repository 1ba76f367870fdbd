// Command create is the Lambda behind POST /ticket: it validates and stores the ticket in
// DynamoDB, answers 201 at once, and starts the notification workflow on Step Functions.
//
// Environment: TABLE_NAME, STATE_MACHINE_ARN, REPORTER_MAIL ("true": queue the reporter's
// "filed" email, which the reportermail function sends through SES).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/sfn"
)

func main() {
	e := lambdamain.Setup()
	h := api.New(api.Config{
		Store:        dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil),
		Starter:      sfn.NewStarter(awssfn.NewFromConfig(e.AWS), e.Require("STATE_MACHINE_ARN")),
		Log:          e.Log,
		RequestID:    lambdamain.GatewayRequestID,
		ReporterMail: e.Require("REPORTER_MAIL") == "true",
	})
	lambdamain.StartAPI(h)
}

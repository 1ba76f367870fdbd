// Command sweep is the scheduled Lambda that recovers notifications left PENDING: see
// tasks.Sweep. It runs every few minutes and reads the table's sparse pending index.
//
// Environment: TABLE_NAME, STATE_MACHINE_ARN.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/sfn"
	"github.com/incidentmanager/incidents/tasks"
)

func main() {
	e := lambdamain.Setup()
	s := &tasks.Sweep{
		Store:   dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil),
		Starter: sfn.NewStarter(awssfn.NewFromConfig(e.AWS), e.Require("STATE_MACHINE_ARN")),
		Now:     time.Now,
		Log:     e.Log,
	}
	lambda.Start(s.Handle)
}

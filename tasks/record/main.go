// Command record is the workflow's RecordSent/RecordFailure task Lambda: it writes the
// notification outcome onto the ticket in DynamoDB.
//
// Environment: TABLE_NAME.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/tasks"
)

func main() {
	e := lambdamain.Setup()
	r := &tasks.Record{
		Store: dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil),
		Now:   time.Now,
	}
	lambda.Start(r.Handle)
}

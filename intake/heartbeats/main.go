// Command heartbeats is the scheduled Lambda (every minute) that files a ticket for every
// heartbeat monitor whose ping is late: see intake.Service.CheckHeartbeats.
//
// Environment: TABLE_NAME, STATE_MACHINE_ARN.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/sfn"
)

func main() {
	e := lambdamain.Setup()
	db, table := dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME")
	store := dynamo.NewStore(db, table, nil)
	svc := &intake.Service{Tickets: store, Integrations: dynamo.NewIntegrations(db, table), Starter: sfn.NewStarter(awssfn.NewFromConfig(e.AWS), e.Require("STATE_MACHINE_ARN")), Log: e.Log}
	lambda.Start(func(ctx context.Context, _ map[string]any) (map[string]int, error) {
		n, err := svc.CheckHeartbeats(ctx)
		return map[string]int{"opened": n}, err
	})
}

// Command intake is the Lambda behind the monitoring routes: POST /v2/enqueue (PagerDuty
// Events API v2), POST /v1/alertmanager[/{key}] (Alertmanager webhooks) and
// /v1/heartbeat/{key}. Each request is authenticated by an integration key, kept hashed in
// the table; new tickets start the notification workflow.
//
// Environment: TABLE_NAME, STATE_MACHINE_ARN.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/sfn"
)

func main() {
	e := lambdamain.Setup()
	db, table := dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME")
	store, ints := dynamo.NewStore(db, table, nil), dynamo.NewIntegrations(db, table)
	starter := sfn.NewStarter(awssfn.NewFromConfig(e.AWS), e.Require("STATE_MACHINE_ARN"))
	h := api.New(api.Config{
		Store:        store,
		Integrations: ints,
		Intake:       &intake.Service{Tickets: store, Integrations: ints, Starter: starter, Log: e.Log},
		Log:          e.Log,
		RequestID:    lambdamain.GatewayRequestID,
	})
	lambdamain.StartAPI(h)
}

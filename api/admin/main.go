// Command admin is the Lambda behind the admins' routes other than the list: PATCH
// /ticket/{id} (acknowledge, resolve, reopen), GET /admin/tickets/{id} (the whole ticket), POST
// /admin/tickets/bulk, POST /admin/tickets/{id}/retry-notification (which starts the workflow
// again), GET /admin/stats, the integrations (/admin/integrations...) and replies to reporters
// (POST /admin/tickets/{id}/replies). Every route checks the admin token, a SecureString in
// Parameter Store.
//
// Environment: TABLE_NAME, ADMIN_TOKEN_PARAM, STATE_MACHINE_ARN.
package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/sfn"
	"github.com/incidentmanager/incidents/internal/ssm"
)

func main() {
	e := lambdamain.Setup()
	db, table := dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME")
	h := api.New(api.Config{
		Store:        dynamo.NewStore(db, table, nil),
		Integrations: dynamo.NewIntegrations(db, table),
		Starter:      sfn.NewStarter(awssfn.NewFromConfig(e.AWS), e.Require("STATE_MACHINE_ARN")),
		AdminToken:   ssm.NewSecret(awsssm.NewFromConfig(e.AWS), e.Require("ADMIN_TOKEN_PARAM"), 5*time.Minute).Get,
		Log:          e.Log,
		RequestID:    lambdamain.GatewayRequestID,
	})
	lambdamain.StartAPI(h)
}

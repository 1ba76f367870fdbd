// Command get is the Lambda behind GET /ticket/{id}: one ticket, read from DynamoDB. The
// ticket's unguessable ID is the reporter's capability, so the route is public.
//
// Environment: TABLE_NAME.
package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/ssm"
)

func main() {
	e := lambdamain.Setup()
	h := api.New(api.Config{
		Store: dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil),
		// Admins see the whole ticket; anyone else with the ID its public view.
		AdminToken: ssm.NewSecret(awsssm.NewFromConfig(e.AWS), e.Require("ADMIN_TOKEN_PARAM"), 5*time.Minute).Get,
		Log:        e.Log,
		RequestID:  lambdamain.GatewayRequestID,
	})
	lambdamain.StartAPI(h)
}

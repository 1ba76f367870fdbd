// Command get is the Lambda behind GET /ticket/{id}: one ticket's public view, read from
// DynamoDB. The ticket's unguessable ID is the reporter's capability, so the route is public,
// and this function holds no secret: admins read the whole ticket through
// GET /admin/tickets/{id} (the admin function, behind the authorizer).
//
// Environment: TABLE_NAME.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
)

func main() {
	e := lambdamain.Setup()
	h := api.New(api.Config{
		Store:     dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), nil),
		Log:       e.Log,
		RequestID: lambdamain.GatewayRequestID,
	})
	lambdamain.StartAPI(h)
}

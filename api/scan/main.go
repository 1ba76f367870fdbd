// Command scan is the Lambda behind GET /ticket: the admins' paginated, filtered list of
// tickets, newest first across pages (a Query of the table's ListIndex, month by month; the
// separate read function, so the list's permissions stay apart from the writers'). It needs
// the admin token and the key that seals list cursors, both SecureStrings in Parameter Store.
//
// Environment: TABLE_NAME, ADMIN_TOKEN_PARAM, CURSOR_KEY_PARAM.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/ssm"
)

func main() {
	ctx := context.Background()
	e := lambdamain.Setup()
	params := awsssm.NewFromConfig(e.AWS)
	// The cursor key is read once per cold start: a rotation takes effect as instances recycle.
	cursorKey, err := ssm.NewSecret(params, e.Require("CURSOR_KEY_PARAM"), time.Hour).Get(ctx)
	if err != nil {
		e.Fatal("read the cursor key", err)
	}
	h := api.New(api.Config{
		Store:      dynamo.NewStore(dynamodb.NewFromConfig(e.AWS), e.Require("TABLE_NAME"), []byte(cursorKey)),
		AdminToken: ssm.NewSecret(params, e.Require("ADMIN_TOKEN_PARAM"), 5*time.Minute).Get,
		Log:        e.Log,
		RequestID:  lambdamain.GatewayRequestID,
	})
	lambdamain.StartAPI(h)
}

// Command admin is the Lambda behind the admins' write and summary routes: PATCH
// /ticket/{id} (acknowledge, resolve, reopen) and GET /admin/stats. Every route checks the
// admin token, a SecureString in Parameter Store.
//
// Environment: TABLE_NAME, ADMIN_TOKEN_PARAM.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/ssm"
)

func main() {
	log := lambdacontext.NewLogger()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fatal(log, "load AWS configuration", err)
	}
	h := api.New(api.Config{
		Store:      dynamo.NewStore(dynamodb.NewFromConfig(cfg), env(log, "TABLE_NAME"), nil),
		AdminToken: ssm.NewSecret(awsssm.NewFromConfig(cfg), env(log, "ADMIN_TOKEN_PARAM"), 5*time.Minute).Get,
		Log:        log,
		RequestID:  gatewayRequestID,
	})
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}

// gatewayRequestID is API Gateway's request ID, the one its access logs show.
func gatewayRequestID(r *http.Request) string {
	c, _ := core.GetAPIGatewayV2ContextFromContext(r.Context())
	return c.RequestID
}

func env(log *slog.Logger, name string) string {
	v := os.Getenv(name)
	if v == "" {
		fatal(log, "missing environment variable "+name, nil)
	}
	return v
}

func fatal(log *slog.Logger, msg string, err error) {
	log.Error(msg, "err", err)
	os.Exit(1)
}

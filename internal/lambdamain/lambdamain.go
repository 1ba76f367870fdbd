// Package lambdamain is what every Lambda main shares, so each main.go stays the wiring of its
// own adapters: the JSON logger with the Lambda request ID, the AWS configuration, required
// environment variables, and the API Gateway adapter for the API functions.
package lambdamain

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// Env is a cold start's logger and AWS configuration.
type Env struct {
	Log *slog.Logger
	AWS aws.Config
}

// Setup loads the AWS configuration (AWS_ENDPOINT_URL_* point it at stand-ins in tests) and
// exits the process if it cannot: a Lambda that cannot start should fail its init.
func Setup() Env {
	e := Env{Log: lambdacontext.NewLogger()}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		e.Fatal("load AWS configuration", err)
	}
	e.AWS = cfg
	return e
}

// Require returns the environment variable name, or exits if it is unset.
func (e Env) Require(name string) string {
	v := os.Getenv(name)
	if v == "" {
		e.Fatal("missing environment variable "+name, nil)
	}
	return v
}

// Fatal logs and exits.
func (e Env) Fatal(msg string, err error) {
	e.Log.Error(msg, "err", err)
	os.Exit(1)
}

// StartAPI serves h for API Gateway HTTP API (payload v2) events.
func StartAPI(h http.Handler) {
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}

// GatewayRequestID is API Gateway's request ID, the one its access logs show.
func GatewayRequestID(r *http.Request) string {
	c, _ := core.GetAPIGatewayV2ContextFromContext(r.Context())
	return c.RequestID
}

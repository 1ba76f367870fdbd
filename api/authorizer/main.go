// Command authorizer is the HTTP API's Lambda authorizer for the admin routes: it lets a
// request through only with the admin bearer token kept in SSM Parameter Store.
//
// Environment: ADMIN_TOKEN_PARAM.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/lambdamain"
	"github.com/incidentmanager/incidents/internal/ssm"
)

func main() {
	e := lambdamain.Setup()
	a := &api.Authorizer{
		AdminToken: ssm.NewSecret(awsssm.NewFromConfig(e.AWS), e.Require("ADMIN_TOKEN_PARAM"), 5*time.Minute).Get,
		Log:        e.Log,
	}
	lambda.Start(a.Handle)
}

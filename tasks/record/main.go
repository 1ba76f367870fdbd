// Command record is the workflow's RecordSent/RecordFailure task Lambda: it writes the
// notification outcome onto the ticket in DynamoDB.
//
// Environment: TABLE_NAME.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/tasks"
)

func main() {
	log := lambdacontext.NewLogger()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fatal(log, "load AWS configuration", err)
	}
	r := &tasks.Record{
		Store: dynamo.NewStore(dynamodb.NewFromConfig(cfg), env(log, "TABLE_NAME"), nil),
		Now:   time.Now,
	}
	lambda.Start(r.Handle)
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

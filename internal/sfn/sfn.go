// Package sfn starts the notification workflow on AWS Step Functions: the ticket.Starter the
// create Lambda and the sweeper use.
package sfn

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Client is the part of the Step Functions API the starter uses (*sfn.Client implements it).
type Client interface {
	StartExecution(ctx context.Context, in *awssfn.StartExecutionInput, opts ...func(*awssfn.Options)) (*awssfn.StartExecutionOutput, error)
}

// Starter starts one execution of a state machine per ticket.
type Starter struct {
	client          Client
	stateMachineArn string
}

var _ ticket.Starter = (*Starter)(nil)

// NewStarter returns a starter for the state machine stateMachineArn.
func NewStarter(client Client, stateMachineArn string) *Starter {
	return &Starter{client: client, stateMachineArn: stateMachineArn}
}

// Start starts an execution named after the ticket with the ticket as input and returns its
// ARN. Express executions are not deduplicated by name, which is what lets the sweeper start
// one again for a ticket left PENDING; the workflow's tasks guard against duplicates.
func (s *Starter) Start(ctx context.Context, t *ticket.Ticket) (string, error) {
	in, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("marshal ticket %s: %w", t.ID, err)
	}
	out, err := s.client.StartExecution(ctx, &awssfn.StartExecutionInput{
		StateMachineArn: aws.String(s.stateMachineArn),
		Name:            aws.String(t.ID),
		Input:           aws.String(string(in)),
	})
	if err != nil {
		return "", fmt.Errorf("start execution for ticket %s: %w", t.ID, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// Package sfn starts the notification workflow on Step Functions: the ticket.Starter the
// create Lambda and the sweeper use on AWS, and the embedded server uses with the local
// Step Functions (internal/sfnapi) as its client.
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

// Start starts an execution named after the ticket whose input is the ticket's ID only, and
// returns its ARN. Express executions are not deduplicated by name, which is what lets the
// sweeper start one again for a ticket left PENDING; the ticket's delivery state guards
// against sending twice.
func (s *Starter) Start(ctx context.Context, ticketID string) (string, error) {
	in, err := json.Marshal(ticket.WorkflowInput{ID: ticketID})
	if err != nil {
		return "", err
	}
	out, err := s.client.StartExecution(ctx, &awssfn.StartExecutionInput{
		StateMachineArn: aws.String(s.stateMachineArn),
		Name:            aws.String(ticketID),
		Input:           aws.String(string(in)),
	})
	if err != nil {
		return "", fmt.Errorf("start execution for ticket %s: %w", ticketID, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

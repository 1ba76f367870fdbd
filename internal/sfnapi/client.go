package sfnapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/incidentmanager/incidents/internal/asl"
)

// The Step Functions SDK's calls, answered in process: the embedded server uses the Service as
// its client exactly as a Lambda uses AWS's *sfn.Client (the Starter in internal/sfn starts
// executions with it; acknowledging a page sends the task token back with it). Errors satisfy
// smithy.APIError with AWS's codes.

// StartExecution starts an execution (see Start).
func (s *Service) StartExecution(ctx context.Context, in *awssfn.StartExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.StartExecutionOutput, error) {
	st, err := s.Start(StartRequest{StateMachineArn: aws.ToString(in.StateMachineArn), Name: aws.ToString(in.Name), Input: in.Input})
	if err != nil {
		return nil, err
	}
	return &awssfn.StartExecutionOutput{ExecutionArn: aws.String(st.ExecutionArn), StartDate: aws.Time(st.StartDate)}, nil
}

// SendTaskSuccess completes the callback task waiting on the token, with Output as its result.
func (s *Service) SendTaskSuccess(_ context.Context, in *awssfn.SendTaskSuccessInput, _ ...func(*awssfn.Options)) (*awssfn.SendTaskSuccessOutput, error) {
	if err := s.sendTaskSuccess(aws.ToString(in.TaskToken), aws.ToString(in.Output)); err != nil {
		return nil, err
	}
	return &awssfn.SendTaskSuccessOutput{}, nil
}

// SendTaskFailure fails the callback task waiting on the token with Error and Cause.
func (s *Service) SendTaskFailure(_ context.Context, in *awssfn.SendTaskFailureInput, _ ...func(*awssfn.Options)) (*awssfn.SendTaskFailureOutput, error) {
	if err := s.sendTaskFailure(aws.ToString(in.TaskToken), aws.ToString(in.Error), aws.ToString(in.Cause)); err != nil {
		return nil, err
	}
	return &awssfn.SendTaskFailureOutput{}, nil
}

// SendTaskHeartbeat restarts the HeartbeatSeconds clock of the callback task waiting on the token.
func (s *Service) SendTaskHeartbeat(_ context.Context, in *awssfn.SendTaskHeartbeatInput, _ ...func(*awssfn.Options)) (*awssfn.SendTaskHeartbeatOutput, error) {
	if err := s.sendTaskHeartbeat(aws.ToString(in.TaskToken)); err != nil {
		return nil, err
	}
	return &awssfn.SendTaskHeartbeatOutput{}, nil
}

// StopExecution stops a running Standard execution: it ends ABORTED with Error and Cause.
func (s *Service) StopExecution(ctx context.Context, in *awssfn.StopExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.StopExecutionOutput, error) {
	stop, err := s.stopExecution(ctx, aws.ToString(in.ExecutionArn), aws.ToString(in.Error), aws.ToString(in.Cause))
	if err != nil {
		return nil, err
	}
	return &awssfn.StopExecutionOutput{StopDate: aws.Time(stop)}, nil
}

// ListExecutions lists a Standard state machine's executions, newest first.
func (s *Service) ListExecutions(ctx context.Context, in *awssfn.ListExecutionsInput, _ ...func(*awssfn.Options)) (*awssfn.ListExecutionsOutput, error) {
	list, next, err := s.listExecutions(ctx, aws.ToString(in.StateMachineArn), string(in.StatusFilter), int(in.MaxResults), aws.ToString(in.NextToken))
	if err != nil {
		return nil, err
	}
	out := &awssfn.ListExecutionsOutput{Executions: make([]types.ExecutionListItem, 0, len(list))}
	for _, x := range list {
		out.Executions = append(out.Executions, types.ExecutionListItem{
			ExecutionArn: aws.String(x.ExecutionArn), StateMachineArn: aws.String(x.StateMachineArn), Name: aws.String(x.Name),
			Status: types.ExecutionStatus(x.Status), StartDate: aws.Time(x.StartDate), StopDate: x.StopDate,
		})
	}
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return out, nil
}

// DescribeExecution describes an execution, running or finished.
func (s *Service) DescribeExecution(ctx context.Context, in *awssfn.DescribeExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.DescribeExecutionOutput, error) {
	x, _, err := s.lookup(ctx, aws.ToString(in.ExecutionArn))
	if err != nil {
		return nil, err
	}
	return describeSDK(x), nil
}

func describeSDK(x asl.Execution) *awssfn.DescribeExecutionOutput {
	out := &awssfn.DescribeExecutionOutput{
		ExecutionArn: aws.String(x.ExecutionArn), StateMachineArn: aws.String(x.StateMachineArn), Name: aws.String(x.Name),
		Status: types.ExecutionStatus(x.Status), StartDate: aws.Time(x.StartDate),
		Input: aws.String(string(x.Input)), InputDetails: &types.CloudWatchEventsExecutionDataDetails{Included: true},
	}
	if !x.StopDate.IsZero() {
		out.StopDate = aws.Time(x.StopDate)
	}
	if x.Status == asl.StatusSucceeded {
		out.Output = aws.String(string(x.Output))
		out.OutputDetails = &types.CloudWatchEventsExecutionDataDetails{Included: true}
	}
	if x.Error != "" {
		out.Error = aws.String(x.Error)
	}
	if x.Cause != "" {
		out.Cause = aws.String(x.Cause)
	}
	return out
}

// GetExecutionHistory returns a page of an execution's history.
func (s *Service) GetExecutionHistory(ctx context.Context, in *awssfn.GetExecutionHistoryInput, _ ...func(*awssfn.Options)) (*awssfn.GetExecutionHistoryOutput, error) {
	page, next, err := s.historyPage(ctx, aws.ToString(in.ExecutionArn), int(in.MaxResults), aws.ToString(in.NextToken), in.ReverseOrder)
	if err != nil {
		return nil, err
	}
	out := &awssfn.GetExecutionHistoryOutput{Events: make([]types.HistoryEvent, len(page))}
	for i, ev := range page {
		// The SDK's event types carry the same members as the events' JSON (matched without
		// regard to case), timestamps in RFC 3339.
		if err := json.Unmarshal(ev, &out.Events[i]); err != nil {
			return nil, fmt.Errorf("history event %s: %w", ev, err)
		}
	}
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return out, nil
}

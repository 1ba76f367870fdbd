package sfnapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
)

// StartExecution is the Step Functions SDK's call, answered in process: the embedded server's
// Starter (internal/sfn) uses the Service as its client, exactly as the create Lambda uses
// AWS's. Errors satisfy smithy.APIError with AWS's codes.
func (s *Service) StartExecution(ctx context.Context, in *awssfn.StartExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.StartExecutionOutput, error) {
	st, err := s.Start(StartRequest{StateMachineArn: aws.ToString(in.StateMachineArn), Name: aws.ToString(in.Name), Input: in.Input})
	if err != nil {
		return nil, err
	}
	return &awssfn.StartExecutionOutput{ExecutionArn: aws.String(st.ExecutionArn), StartDate: aws.Time(st.StartDate)}, nil
}

// Package statemachine binds the one workflow definition, notify.asl.json, to the task
// handlers: on AWS, SAM's DefinitionSubstitutions point its Resources at the task Lambdas; in
// the embedded server the same file, with the same substitutions, runs in internal/asl and its
// Task states call the handlers in process through aws-lambda-go, so serialization and error
// names are those of real Lambda.
package statemachine

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/tasks"
)

// Definition is statemachine/notify.asl.json, with its ${...} placeholders.
//
//go:embed notify.asl.json
var Definition []byte

// The task functions the definition refers to, by the name of their substitution.
const (
	PublishFunction = "publish"
	RecordFunction  = "record"
)

// Placeholders maps each ${...} of the definition to its task function.
var Placeholders = map[string]string{
	"PublishFunctionArn": PublishFunction,
	"RecordFunctionArn":  RecordFunction,
}

// LocalFunctionArn is the Lambda ARN a task function has in the embedded server.
func LocalFunctionArn(name string) string {
	return "arn:aws:lambda:local:000000000000:function:incident-manager-" + name
}

// SAMFunctionArn is the ARN of a task function as `sam local start-lambda` serves it: named by
// its logical ID in template.yaml (PublishFunction, RecordFunction).
func SAMFunctionArn(name string) string {
	return "arn:aws:lambda:us-east-1:000000000000:function:" + strings.ToUpper(name[:1]) + name[1:] + "Function"
}

// LocalStateMachineArn is the state machine's ARN in the embedded server.
const LocalStateMachineArn = "arn:aws:states:local:000000000000:stateMachine:incident-manager-notify"

// Substitutions returns the DefinitionSubstitutions with each function's ARN from arn.
func Substitutions(arn func(function string) string) map[string]string {
	subs := make(map[string]string, len(Placeholders))
	for k, fn := range Placeholders {
		subs[k] = arn(fn)
	}
	return subs
}

// Load substitutes and parses the definition.
func Load(arn func(function string) string) (*asl.Machine, error) {
	def, err := asl.Substitute(Definition, Substitutions(arn))
	if err != nil {
		return nil, err
	}
	return asl.Parse(def)
}

// NewTaskInvoker binds the definition's task functions to their handlers, in process: the one
// place that says which handler serves which Resource.
func NewTaskInvoker(publish *tasks.Publish, record *tasks.Record) *InProcess {
	return NewInProcess(map[string]any{PublishFunction: publish.Handle, RecordFunction: record.Handle})
}

// InProcess is an asl.Invoker that calls Go task handlers in this process, through the same
// aws-lambda-go handler machinery a Lambda runtime uses.
type InProcess struct {
	handlers map[string]lambda.Handler
	seq      atomic.Int64
}

// NewInProcess binds function names to handler functions (anything lambda.NewHandler takes).
func NewInProcess(handlers map[string]any) *InProcess {
	p := &InProcess{handlers: map[string]lambda.Handler{}}
	for name, fn := range handlers {
		p.handlers[name] = lambda.NewHandler(fn)
	}
	return p
}

// Invoke implements asl.Invoker. resource is a Lambda function ARN or name. Errors become
// *asl.TaskFailure named and documented as the Lambda runtime would report them.
func (p *InProcess) Invoke(ctx context.Context, resource string, input json.RawMessage) (out json.RawMessage, err error) {
	name := resource
	if i := strings.LastIndex(resource, ":function:"); i >= 0 {
		name = resource[i+len(":function:"):]
	}
	name = strings.TrimPrefix(name, "incident-manager-")
	h, ok := p.handlers[name]
	if !ok {
		return nil, &asl.TaskFailure{Name: "Lambda.ResourceNotFoundException", Cause: fmt.Sprintf("Function not found: %s", resource)}
	}
	lc := &lambdacontext.LambdaContext{AwsRequestID: uuid.NewString(), InvokedFunctionArn: resource}
	ctx = lambdacontext.NewContext(ctx, lc)
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, failure(messages.InvokeResponse_Error{Message: fmt.Sprint(v), Type: typeName(v)})
		}
	}()
	b, err := h.Invoke(ctx, input)
	if err != nil {
		if ive, ok := err.(messages.InvokeResponse_Error); ok {
			return nil, failure(ive)
		}
		return nil, failure(messages.InvokeResponse_Error{Message: err.Error(), Type: typeName(err)})
	}
	return b, nil
}

// typeName is the error name aws-lambda-go reports: the reflected type name of the value.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// failure turns a Lambda error document into a Step Functions task failure: the name is the
// errorType, the cause the document as JSON text.
func failure(e messages.InvokeResponse_Error) *asl.TaskFailure {
	doc, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{e.Message, e.Type})
	return &asl.TaskFailure{Name: e.Type, Cause: string(doc)}
}

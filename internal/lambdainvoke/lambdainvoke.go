// Package lambdainvoke lets the local workflow engine run Task states that name real Lambda
// functions: an asl.Invoker over the Lambda Invoke API. Errors come back as Step Functions
// names them: a function error as its errorType (so Retry on "TransientError" works as on
// AWS), a failure of the Lambda service itself as Lambda.ServiceException,
// Lambda.TooManyRequestsException, Lambda.SdkClientException and so on.
//
// The endpoint is per function, so the same definition can call AWS, `sam local
// start-lambda`, or one Lambda Runtime Interface Emulator per function.
package lambdainvoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/incidentmanager/incidents/internal/asl"
)

// Target is where and how one function is invoked.
type Target struct {
	// Endpoint is the Lambda API's base URL; "" uses the SDK configuration (AWS itself).
	Endpoint string
	// FunctionName is what the Invoke call names: the ARN on AWS, "function" for the Runtime
	// Interface Emulator.
	FunctionName string
	// Exclusive: the endpoint serves one invocation at a time (the Runtime Interface
	// Emulator crashes on concurrent invokes), so calls to it are serialized.
	Exclusive bool
}

// Resolver maps a Task's function (ARN or name) to its target.
type Resolver func(function string) (Target, error)

// AWS calls every function by its ARN through the SDK's own endpoint.
func AWS(function string) (Target, error) { return Target{FunctionName: function}, nil }

// Endpoint calls every function by name at one Lambda API endpoint (sam local start-lambda).
func Endpoint(url string) Resolver {
	return func(function string) (Target, error) {
		return Target{Endpoint: url, FunctionName: FunctionName(function)}, nil
	}
}

// Emulators maps each function ARN (or name) to the URL of a Runtime Interface Emulator that
// runs it.
func Emulators(urls map[string]string) Resolver {
	return func(function string) (Target, error) {
		u, ok := urls[function]
		if !ok {
			u, ok = urls[FunctionName(function)]
		}
		if !ok {
			return Target{}, &asl.TaskFailure{Name: "Lambda.ResourceNotFoundException", Cause: "Function not found: " + function}
		}
		return Target{Endpoint: u, FunctionName: "function", Exclusive: true}, nil
	}
}

// FunctionName is the function's name from its ARN (a name stays as it is; a version or alias
// suffix is dropped).
func FunctionName(function string) string {
	if i := strings.Index(function, ":function:"); i >= 0 {
		function = function[i+len(":function:"):]
		if j := strings.IndexByte(function, ':'); j >= 0 {
			function = function[:j]
		}
	}
	return function
}

// Invoker is an asl.Invoker calling Lambda functions synchronously.
type Invoker struct {
	cfg     aws.Config
	resolve Resolver
	mu      sync.Mutex
	clients map[string]*lambda.Client
	locks   map[string]*sync.Mutex
}

var _ asl.Invoker = (*Invoker)(nil)

// New returns an invoker using cfg (region, credentials, retries) and resolve (nil: AWS).
func New(cfg aws.Config, resolve Resolver) *Invoker {
	if resolve == nil {
		resolve = AWS
	}
	return &Invoker{cfg: cfg, resolve: resolve, clients: map[string]*lambda.Client{}, locks: map[string]*sync.Mutex{}}
}

func (i *Invoker) client(endpoint string) (*lambda.Client, *sync.Mutex) {
	i.mu.Lock()
	defer i.mu.Unlock()
	c, ok := i.clients[endpoint]
	if !ok {
		c = lambda.NewFromConfig(i.cfg, func(o *lambda.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		})
		i.clients[endpoint] = c
		i.locks[endpoint] = &sync.Mutex{}
	}
	return c, i.locks[endpoint]
}

// Invoke implements asl.Invoker for a function ARN, or for arn:aws:states:::lambda:invoke
// with {"FunctionName", "Payload"} parameters.
func (i *Invoker) Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	// The optimized integration: its input names the function and carries the payload, and
	// its output wraps the function's result.
	if strings.HasPrefix(resource, "arn:") && strings.HasSuffix(resource, ":states:::lambda:invoke") {
		var p struct {
			FunctionName string
			Payload      json.RawMessage
		}
		if err := json.Unmarshal(input, &p); err != nil || p.FunctionName == "" {
			return nil, &asl.TaskFailure{Name: "States.Runtime", Cause: "lambda:invoke needs Parameters with FunctionName and Payload"}
		}
		if len(p.Payload) == 0 {
			p.Payload = json.RawMessage("{}")
		}
		out, status, version, err := i.call(ctx, p.FunctionName, p.Payload)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"ExecutedVersion": version, "Payload": out, "StatusCode": status, "SdkHttpMetadata": map[string]any{"HttpStatusCode": status}})
	}
	out, _, _, err := i.call(ctx, resource, input)
	return out, err
}

func (i *Invoker) call(ctx context.Context, function string, input json.RawMessage) (json.RawMessage, int32, string, error) {
	t, err := i.resolve(function)
	if err != nil {
		return nil, 0, "", err
	}
	c, lock := i.client(t.Endpoint)
	if t.Exclusive {
		lock.Lock()
		defer lock.Unlock()
	}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(t.FunctionName),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        input,
	})
	if err != nil {
		return nil, 0, "", serviceFailure(ctx, err)
	}
	payload := json.RawMessage(out.Payload)
	if out.FunctionError != nil || isErrorDocument(payload) {
		return nil, 0, "", functionFailure(payload)
	}
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	return payload, out.StatusCode, aws.ToString(out.ExecutedVersion), nil
}

// errorDocument is what a Lambda runtime returns for a failed invocation.
type errorDocument struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

// isErrorDocument recognizes an error document that arrived without the X-Amz-Function-Error
// header (the Runtime Interface Emulator answers 200 with the document alone): an object
// with errorType and errorMessage and nothing but the runtime's own keys.
func isErrorDocument(p json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(p, &m) != nil || m["errorType"] == nil || m["errorMessage"] == nil {
		return false
	}
	for k := range m {
		switch k {
		case "errorType", "errorMessage", "stackTrace", "requestId", "cause":
		default:
			return false
		}
	}
	return true
}

// functionFailure names a function error by its errorType; the cause is the error document
// itself, as Step Functions reports it.
func functionFailure(p json.RawMessage) error {
	var doc errorDocument
	_ = json.Unmarshal(p, &doc)
	name := doc.ErrorType
	if name == "" {
		name = "Lambda.Unknown"
	}
	return &asl.TaskFailure{Name: name, Cause: string(p)}
}

// serviceFailure names an error of the Invoke call itself as Step Functions does.
func serviceFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // the engine turns its own deadline into States.Timeout
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); code {
		case "ServiceException", "TooManyRequestsException", "ResourceNotFoundException",
			"EC2ThrottledException", "ResourceNotReadyException", "InvalidRequestContentException",
			"RequestTooLargeException", "KMSAccessDeniedException", "AccessDeniedException":
			return &asl.TaskFailure{Name: "Lambda." + code, Cause: api.ErrorMessage()}
		default:
			var resp *smithyhttp.ResponseError
			if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
				return &asl.TaskFailure{Name: "Lambda.ServiceException", Cause: fmt.Sprintf("%s: %s", code, api.ErrorMessage())}
			}
			return &asl.TaskFailure{Name: "Lambda.AWSLambdaException", Cause: fmt.Sprintf("%s: %s", code, api.ErrorMessage())}
		}
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return &asl.TaskFailure{Name: "Lambda.ServiceException", Cause: err.Error()}
	}
	// No usable answer: refused, reset, unreadable.
	return &asl.TaskFailure{Name: "Lambda.SdkClientException", Cause: err.Error()}
}

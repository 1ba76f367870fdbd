package asl

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

const lambdaInvokeArn = "arn:aws:states:::lambda:invoke"

// taskKind classifies a Task Resource: a bare Lambda ARN, the lambda:invoke
// integration, or anything else (passed to the Invoker as-is).
func taskKind(resource string) (kind, resourceType, action string) {
	switch {
	case strings.HasPrefix(resource, "arn:") && strings.Contains(resource, ":lambda:") && strings.Contains(resource, ":function:"):
		return "lambda", "", ""
	case strings.HasPrefix(resource, "arn:aws:states:::"):
		rest := strings.TrimPrefix(resource, "arn:aws:states:::")
		svc, act, _ := strings.Cut(rest, ":")
		return "service", svc, act
	}
	return "service", "", resource
}

func (r *runner) task(ctx context.Context, st *state, eff any, ev *evalEnv, th *thread) (any, *failure) {
	payload := eff
	if st.jsonata {
		if st.hasArguments {
			v, err := ev.evalJSONataTemplate(st.arguments, "Arguments")
			if err != nil {
				return nil, asFailure(err)
			}
			payload = v
		}
	} else if st.hasParameters {
		v, err := evalTemplate(st.parameters, ev.with(eff))
		if err != nil {
			return nil, asFailure(err)
		}
		payload = v
	}
	timeout := st.timeoutSeconds
	if st.timeoutSecondsPath != nil {
		v, err := ev.path(st.timeoutSecondsPath)
		if err != nil {
			return nil, asFailure(runtimeErr("Invalid path '%s' : %v", st.timeoutSecondsPath.src, err))
		}
		n, ok := asInteger(v)
		if !ok || n <= 0 {
			return nil, asFailure(runtimeErr("The TimeoutSecondsPath parameter must reference a positive integer: %s == %s", st.timeoutSecondsPath.src, formatArg(v)))
		}
		timeout = n
	}
	heartbeat, _ := asInteger(st.f.val("HeartbeatSeconds"))
	if st.jsonata {
		for _, field := range []string{"TimeoutSeconds", "HeartbeatSeconds"} {
			raw, ok := st.f.val(field).(string)
			if !ok || !isExpr(raw) {
				continue
			}
			v, err := ev.evalExpr(raw, field)
			if err != nil {
				return nil, asFailure(err)
			}
			n, ok := asInteger(v)
			if !ok || n <= 0 {
				return nil, asFailure(queryError(field, "The %s field must be a positive integer, but was: %s", field, encodeString(v)))
			}
			if field == "TimeoutSeconds" {
				timeout = n
			} else {
				heartbeat = n
			}
		}
	}
	if st.heartbeatPath != nil {
		if _, err := ev.path(st.heartbeatPath); err != nil {
			return nil, asFailure(runtimeErr("Invalid path '%s' : %v", st.heartbeatPath.src, err))
		}
	}
	kind, resourceType, action := taskKind(st.resource)
	isInvoke := st.resource == lambdaInvokeArn || strings.HasPrefix(st.resource, lambdaInvokeArn+".")

	var target string
	var body []byte
	if kind == "lambda" {
		target, body = st.resource, encodeJSON(payload)
		d := map[string]any{"resource": st.resource, "input": string(body), "inputDetails": payloadDetails{}}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		if heartbeat > 0 {
			d["heartbeatInSeconds"] = heartbeat
		}
		th.emit("LambdaFunctionScheduled", d)
		th.emit("LambdaFunctionStarted", nil)
	} else {
		if isInvoke {
			pm, _ := payload.(*object)
			target, _ = pm.val("FunctionName").(string)
			switch p := pm.val("Payload").(type) {
			case nil:
				body = []byte("{}") // a null or absent Payload reaches the function as {}
			case string:
				var probe any
				if decodeJSON([]byte(p), &probe) == nil {
					body = []byte(p)
				} else {
					body = encodeJSON(p)
				}
			default:
				body = encodeJSON(p)
			}
		} else {
			target, body = st.resource, encodeJSON(payload)
		}
		d := map[string]any{"resourceType": resourceType, "resource": action, "region": r.region, "parameters": encodeString(payload)}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		if heartbeat > 0 {
			d["heartbeatInSeconds"] = heartbeat
		}
		th.emit("TaskScheduled", d)
		th.emit("TaskStarted", map[string]any{"resourceType": resourceType, "resource": action})
	}

	callCtx := ctx
	var taskDeadline time.Time
	if timeout > 0 {
		taskDeadline = r.clock.Now().Add(time.Duration(timeout) * time.Second)
		var cancel context.CancelFunc
		callCtx, cancel = withDeadline(ctx, r.clock, taskDeadline)
		defer cancel()
	}
	var out json.RawMessage
	var err error
	if r.invoker == nil {
		err = &TaskFailure{Name: "States.TaskFailed", Cause: "no handler is bound to resource " + target}
	} else {
		out, err = r.invoker.Invoke(callCtx, target, body)
	}
	var f *failure
	if err != nil {
		if sf := r.stopped(ctx); sf != nil {
			return nil, sf
		}
		if !taskDeadline.IsZero() && (!r.clock.Now().Before(taskDeadline) || errors.Is(err, context.DeadlineExceeded)) {
			f = &failure{Error: "States.Timeout", hasError: true}
		} else {
			var tf *TaskFailure
			if errors.As(err, &tf) {
				f = named(tf.Name, tf.Cause)
			} else {
				f = named("States.TaskFailed", err.Error())
			}
		}
	}
	var result any
	if f == nil {
		if len(out) > maxPayloadBytes {
			name := st.resource
			if isInvoke {
				name = "lambda"
			}
			f = named("States.DataLimitExceeded", fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", name))
		} else {
			v, perr := parseValue(out)
			if perr != nil {
				v = string(out)
			}
			if len(out) == 0 {
				v = nil
			}
			result = v
			if isInvoke {
				resp := invokeResponse(v, len(out))
				if pm, _ := payload.(*object); pm.val("LogType") == "Tail" {
					// The integration passes LogType through; the function's log tail comes back base64-encoded.
					logTail := base64.StdEncoding.EncodeToString([]byte("START RequestId: local\nEND RequestId: local\n"))
					resp = obj("ExecutedVersion", resp.val("ExecutedVersion"), "LogResult", logTail, "Payload", resp.val("Payload"),
						"SdkHttpMetadata", resp.val("SdkHttpMetadata"), "SdkResponseMetadata", resp.val("SdkResponseMetadata"), "StatusCode", resp.val("StatusCode"))
					meta := resp.val("SdkHttpMetadata").(*object)
					all := meta.val("AllHttpHeaders").(*object)
					meta.set("AllHttpHeaders", &object{keys: append([]string{"X-Amz-Log-Result"}, all.keys...), vals: append([]any{[]any{logTail}}, all.vals...)})
					hh := meta.val("HttpHeaders").(*object) // case-insensitively sorted
					at := hh.find("X-Amz-Executed-Version") + 1
					meta.set("HttpHeaders", &object{keys: append(append(append([]string{}, hh.keys[:at]...), "X-Amz-Log-Result"), hh.keys[at:]...),
						vals: append(append(append([]any{}, hh.vals[:at]...), logTail), hh.vals[at:]...)})
				}
				result = resp
			}
		}
	}
	if kind == "lambda" {
		switch {
		case f == nil:
			th.emit("LambdaFunctionSucceeded", map[string]any{"output": encodeString(result), "outputDetails": payloadDetails{}})
		case f.Error == "States.Timeout":
			th.emit("LambdaFunctionTimedOut", errorDetails(f, nil))
		default:
			th.emit("LambdaFunctionFailed", errorDetails(f, nil))
		}
	} else {
		base := map[string]any{"resourceType": resourceType, "resource": action}
		switch {
		case f == nil:
			base["output"] = encodeString(result)
			base["outputDetails"] = payloadDetails{}
			th.emit("TaskSucceeded", base)
		case f.Error == "States.Timeout":
			th.emit("TaskTimedOut", errorDetails(f, base))
		default:
			th.emit("TaskFailed", errorDetails(f, base))
		}
	}
	return result, f
}

// invokeResponse wraps a Lambda result the way the lambda:invoke integration returns it.
func invokeResponse(payload any, size int) *object {
	n := fmt.Sprint(size)
	date := time.Now().UTC().Format(time.RFC1123)
	return obj(
		"ExecutedVersion", "$LATEST",
		"Payload", payload,
		"SdkHttpMetadata", obj(
			"AllHttpHeaders", obj(
				"X-Amz-Executed-Version", []any{"$LATEST"},
				"x-amzn-Remapped-Content-Length", []any{"0"},
				"Connection", []any{"keep-alive"},
				"x-amzn-RequestId", []any{"00000000-0000-0000-0000-000000000000"},
				"Content-Length", []any{n},
				"Date", []any{date},
				"X-Amzn-Trace-Id", []any{"Root=1-00000000-000000000000000000000000;Sampled=0"},
				"Content-Type", []any{"application/json"},
			),
			"HttpHeaders", obj(
				"Connection", "keep-alive",
				"Content-Length", n,
				"Content-Type", "application/json",
				"Date", date,
				"X-Amz-Executed-Version", "$LATEST",
				"x-amzn-Remapped-Content-Length", "0",
				"x-amzn-RequestId", "00000000-0000-0000-0000-000000000000",
				"X-Amzn-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0",
			),
			"HttpStatusCode", intNumber(200),
		),
		"SdkResponseMetadata", obj("RequestId", "00000000-0000-0000-0000-000000000000"),
		"StatusCode", intNumber(200),
	)
}

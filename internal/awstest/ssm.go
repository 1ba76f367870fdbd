package awstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// SSM is a fake of the Parameter Store calls the project makes (GetParameter,
// GetParametersByPath with paging, PutParameter), speaking the JSON 1.1 protocol so the real
// SDK client drives it. SecureString values come back encrypted-looking without WithDecryption.
type SSM struct {
	URL   string
	Calls atomic.Int32 // requests served, to check caching
	mu    sync.Mutex
	param map[string]ssmParam
	fail  atomic.Int32
}

type ssmParam struct{ Type, Value string }

// StartSSM serves an empty fake parameter store on 127.0.0.1.
func StartSSM(t testing.TB) *SSM {
	t.Helper()
	f := &SSM{param: map[string]ssmParam{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Put sets a parameter (typ String, StringList or SecureString).
func (f *SSM) Put(name, typ, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.param[name] = ssmParam{typ, value}
}

// FailNext makes the next request answer 500 InternalServerError.
func (f *SSM) FailNext() { f.fail.Add(1) }

// SSMClient returns an SSM client for a stand-in.
func SSMClient(endpoint string) *ssm.Client { return ssm.NewFromConfig(Config(endpoint)) }

type ssmWire struct {
	Name             string  `json:"Name"`
	Type             string  `json:"Type"`
	Value            string  `json:"Value"`
	Version          int     `json:"Version"`
	ARN              string  `json:"ARN"`
	DataType         string  `json:"DataType"`
	LastModifiedDate float64 `json:"LastModifiedDate"`
}

func (f *SSM) wire(name string, p ssmParam, decrypt bool) ssmWire {
	v := p.Value
	if p.Type == "SecureString" && !decrypt {
		v = "AQICAHencrypted" + strconv.Itoa(len(p.Value))
	}
	return ssmWire{Name: name, Type: p.Type, Value: v, Version: 1, ARN: "arn:aws:ssm:" + Region + ":000000000000:parameter" + name, DataType: "text", LastModifiedDate: float64(time.Now().Unix())}
}

func (f *SSM) serve(w http.ResponseWriter, r *http.Request) {
	f.Calls.Add(1)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if take(&f.fail) {
		jsonError(w, http.StatusInternalServerError, "InternalServerError", "injected failure")
		return
	}
	var in struct {
		Name           string
		Path           string
		Recursive      bool
		WithDecryption bool
		MaxResults     int
		NextToken      string
		Type           string
		Value          string
		Overwrite      bool
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jsonError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op := r.Header.Get("X-Amz-Target"); op {
	case "AmazonSSM.GetParameter":
		p, ok := f.param[in.Name]
		if !ok {
			jsonError(w, http.StatusBadRequest, "ParameterNotFound", "")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"Parameter": f.wire(in.Name, p, in.WithDecryption)})
	case "AmazonSSM.PutParameter":
		if _, ok := f.param[in.Name]; ok && !in.Overwrite {
			jsonError(w, http.StatusBadRequest, "ParameterAlreadyExists", "")
			return
		}
		f.param[in.Name] = ssmParam{in.Type, in.Value}
		json.NewEncoder(w).Encode(map[string]any{"Version": 1, "Tier": "Standard"})
	case "AmazonSSM.GetParametersByPath":
		prefix := strings.TrimSuffix(in.Path, "/") + "/"
		var names []string
		for n := range f.param {
			if strings.HasPrefix(n, prefix) && (in.Recursive || !strings.Contains(n[len(prefix):], "/")) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		start, _ := strconv.Atoi(in.NextToken)
		size := in.MaxResults
		if size <= 0 || size > 10 {
			size = 10
		}
		end := min(start+size, len(names))
		out := map[string]any{"Parameters": []ssmWire{}}
		var ps []ssmWire
		for _, n := range names[min(start, end):end] {
			ps = append(ps, f.wire(n, f.param[n], in.WithDecryption))
		}
		if ps != nil {
			out["Parameters"] = ps
		}
		if end < len(names) {
			out["NextToken"] = strconv.Itoa(end)
		}
		json.NewEncoder(w).Encode(out)
	default:
		jsonError(w, http.StatusBadRequest, "UnknownOperationException", op)
	}
}

func jsonError(w http.ResponseWriter, status int, typ, msg string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

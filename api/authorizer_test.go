package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/incidentmanager/incidents/api"
)

func TestAuthorizer(t *testing.T) {
	a := &api.Authorizer{AdminToken: func(context.Context) (string, error) { return token, nil }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   bool
	}{
		{"OK", map[string]string{"authorization": "Bearer " + token}, true},
		{"OKCanonicalHeaderName", map[string]string{"Authorization": "Bearer " + token}, true},
		{"ErrNoHeader", nil, false},
		{"ErrWrongToken", map[string]string{"authorization": "Bearer nope"}, false},
		{"ErrNotBearer", map[string]string{"authorization": "Basic " + token}, false},
		{"ErrTokenAlone", map[string]string{"authorization": token}, false},
		{"ErrEmptyBearer", map[string]string{"authorization": "Bearer "}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Handle(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{Headers: tc.header})
			if err != nil || got.IsAuthorized != tc.want {
				t.Errorf("Handle = %v, %v; want %v", got.IsAuthorized, err, tc.want)
			}
		})
	}
	failing := &api.Authorizer{AdminToken: func(context.Context) (string, error) { return "", errors.New("ssm down") }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if got, _ := failing.Handle(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{Headers: map[string]string{"authorization": "Bearer "}}); got.IsAuthorized {
		t.Error("authorized while the token could not be loaded; want to fail closed")
	}
}

package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// BearerMatches reports whether an Authorization header value carries token as a bearer
// credential, comparing in constant time. The scheme name is case-insensitive (RFC 9110
// §11.1: "bearer", "BEARER" and "Bearer" are one scheme); one or more spaces follow it.
func BearerMatches(header, token string) bool {
	scheme, got, ok := strings.Cut(strings.Trim(header, " \t"), " ")
	got = strings.Trim(got, " \t")
	if !ok || !strings.EqualFold(scheme, "Bearer") || got == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Authorizer is the API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses) in
// front of the admin routes: unauthorized requests are refused by API Gateway before any
// admin function runs. The functions check the token again themselves.
type Authorizer struct {
	AdminToken func(ctx context.Context) (string, error)
	Log        *slog.Logger
}

// Handle answers API Gateway. A token that cannot be loaded refuses the request (and is
// logged): failing closed.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	want, err := a.AdminToken(ctx)
	if err != nil {
		a.Log.ErrorContext(ctx, "load admin token", "requestId", req.RequestContext.RequestID, "err", err)
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
	}
	header := req.Headers["authorization"]
	if header == "" {
		header = req.Headers["Authorization"]
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: BearerMatches(header, want)}, nil
}

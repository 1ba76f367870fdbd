// Package awstest starts the local stand-ins of AWS services that the adapter and Lambda tests
// talk to through the real SDK clients: minidyn and dynalite (DynamoDB), goaws (SNS, SQS),
// small fakes of the SSM and Step Functions JSON APIs, and the Lambda Runtime Interface
// Emulator. Everything listens on 127.0.0.1 and is stopped by t.Cleanup. A stand-in that
// cannot start fails the test with a message that says what to install; nothing skips.
package awstest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/incidentmanager/incidents/internal/servetest"
)

// Region is the region every test client uses.
const Region = "us-east-1"

// Config returns an SDK configuration for a stand-in at endpoint, with static credentials
// and no retries (tests want to see the first failure, not a retried success).
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// RepoRoot returns the module root (the folder with go.mod) above the test's directory.
func RepoRoot(t testing.TB) string { return servetest.RepoRoot(t) }

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago, for tools that
// must be told their port rather than handed a listener.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// WaitListening waits until something accepts TCP connections at addr.
func WaitListening(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listening on %s: %w", addr, err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

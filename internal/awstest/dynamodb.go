package awstest

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	miniserver "github.com/truora/minidyn/server"
)

// Minidyn serves a fresh in-memory minidyn over real TCP on 127.0.0.1 (so a Lambda running in
// another process can reach it) and returns its URL.
func Minidyn(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	return srv.URL
}

// Dynalite starts dynalite (npm, node_modules at the repo root) on a free 127.0.0.1 port and
// returns its URL. It fails, rather than skips, when node or the package is missing.
func Dynalite(t testing.TB) string {
	t.Helper()
	cli := filepath.Join(RepoRoot(t), "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("dynalite is not installed (%v): run `npm ci` at the repository root", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: %v", err)
	}
	addr := FreeAddr(t)
	host, port := splitAddr(addr)
	var out bytes.Buffer
	cmd := exec.Command(node, cli, "--host", host, "--port", port, "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dynalite: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := WaitListening(ctx, addr); err != nil {
		t.Fatalf("dynalite did not start: %v\n%s", err, out.String())
	}
	return "http://" + addr
}

// DynamoDB returns a client for a stand-in. minidyn sends no CRC32 header, so response
// checksum validation is off.
func DynamoDB(endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(Config(endpoint), func(o *dynamodb.Options) {
		o.DisableValidateResponseChecksum = true
	})
}

// CreateTable creates a table and waits until it is usable. The SDK's table-exists waiter is
// not used: minidyn reports an empty TableStatus.
func CreateTable(t testing.TB, c *dynamodb.Client, in *dynamodb.CreateTableInput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := c.CreateTable(ctx, in); err != nil {
		t.Fatalf("create table %s: %v", aws.ToString(in.TableName), err)
	}
	for {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
		if err != nil {
			t.Fatalf("describe table %s: %v", aws.ToString(in.TableName), err)
		}
		ready := out.Table.TableStatus == "" || out.Table.TableStatus == types.TableStatusActive
		for _, g := range out.Table.GlobalSecondaryIndexes {
			ready = ready && (g.IndexStatus == "" || g.IndexStatus == types.IndexStatusActive)
		}
		if ready {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("table %s not active: %v", aws.ToString(in.TableName), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func splitAddr(addr string) (host, port string) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i], addr[i+1:]
		}
	}
	return addr, ""
}

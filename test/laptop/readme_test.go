// Package laptop_test checks a newcomer's first hour on a laptop: every command block of the
// READMEs runs as written against a real `incidents serve`, a copy of the repository with no
// ../shared beside it passes the tests that look for the shared corpus, and make run and make
// clean behave as documented.
//
// # The README convention (read this before editing README.md or deploy/README.md)
//
// TestREADMECommandsRun runs every ```sh block of the files in readmes, in order, in one bash
// session (set -euo pipefail), so a variable set in one block is there in the next:
//
//   - The working directory is a scratch copy of the repository (its top-level entries linked
//     in), whose ./data is the data directory of a running `incidents serve` and whose
//     build/incidents is the binary under test. So `cat data/admin-token` and
//     `build/incidents asl run ...` work as they do after `make run`.
//   - BASE is that server's URL. Write `BASE=${BASE:-http://127.0.0.1:8080}` (make run's
//     address) so the block runs as written both by hand and here.
//   - curl fails on an HTTP error status here (it is run with --fail-with-body): a block must
//     succeed as a whole. Capture IDs from the answers (Location, ETag, JSON) rather than
//     writing placeholders.
//   - A block that cannot run here (it needs AWS, restarts the server, or is make run or make
//     test itself) is marked on the line just above its fence with
//     <!-- docs-test: skip (the reason) -->; the reason is required. Everything else must run
//     and succeed, and the test says which block failed, with the file and line.
//   - Blocks in other languages (```json, ```text, unlabelled) are never run.
package laptop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/servetest"
)

// readmes are the files whose command blocks the test runs, in this order.
var readmes = []string{"README.md", "deploy/README.md"}

// block is one fenced code block of a README.
type block struct {
	file string
	line int // of the opening fence, 1-based
	lang string
	text string
	skip string // the reason of a docs-test: skip marker; "" runs it
}

var (
	fence      = regexp.MustCompile("^```([A-Za-z0-9_-]*)\\s*$")
	skipMarker = regexp.MustCompile(`^<!--\s*docs-test:\s*skip\s*(.*?)\s*-->\s*$`)
	anyMarker  = regexp.MustCompile(`^<!--\s*docs-test:`)
)

// parseBlocks reads the fenced blocks of a markdown file. A marker applies to the fence on the
// next non-blank line; a marker anywhere else, or without a reason, is an error, so a typo
// cannot silently keep a block from running or make one run that should not.
func parseBlocks(file string, data []byte) ([]block, error) {
	var (
		out     []block
		pending string
		pendAt  int
		cur     *block
		body    strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if cur != nil {
			if strings.TrimSpace(l) == "```" {
				cur.text = body.String()
				out = append(out, *cur)
				cur = nil
				body.Reset()
				continue
			}
			body.WriteString(l + "\n")
			continue
		}
		if m := fence.FindStringSubmatch(l); m != nil {
			cur = &block{file: file, line: n, lang: m[1], skip: pending}
			pending = ""
			continue
		}
		if m := skipMarker.FindStringSubmatch(l); m != nil {
			reason := strings.TrimSuffix(strings.TrimPrefix(m[1], "("), ")")
			if strings.TrimSpace(reason) == "" {
				return nil, fmt.Errorf("%s:%d: docs-test: skip needs a reason: <!-- docs-test: skip (why) -->", file, n)
			}
			pending, pendAt = reason, n
			continue
		}
		if anyMarker.MatchString(l) {
			return nil, fmt.Errorf("%s:%d: unknown docs-test marker %q (the only one is <!-- docs-test: skip (why) -->)", file, n, l)
		}
		if pending != "" && strings.TrimSpace(l) != "" {
			return nil, fmt.Errorf("%s:%d: the docs-test marker is not followed by a code block", file, pendAt)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: code block never closed", file, cur.line)
	}
	if pending != "" {
		return nil, fmt.Errorf("%s:%d: the docs-test marker is not followed by a code block", file, pendAt)
	}
	return out, nil
}

func TestParseBlocks(t *testing.T) {
	md := "text\n\n<!-- docs-test: skip (needs AWS) -->\n```sh\naws s3 ls\n```\n\n```sh\necho hi\n```\n```json\n{}\n```\n"
	bs, err := parseBlocks("x.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || bs[0].skip != "needs AWS" || bs[0].text != "aws s3 ls\n" || bs[1].skip != "" || bs[1].line != 8 || bs[2].lang != "json" {
		t.Errorf("parsed %+v", bs)
	}
	for name, bad := range map[string]string{
		"ErrNoReason":      "<!-- docs-test: skip -->\n```sh\nx\n```\n",
		"ErrStrayMarker":   "<!-- docs-test: skip (why) -->\nsome prose\n```sh\nx\n```\n",
		"ErrUnknownMarker": "<!-- docs-test: run -->\n```sh\nx\n```\n",
		"ErrUnclosed":      "```sh\nx\n",
	} {
		if _, err := parseBlocks("x.md", []byte(bad)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

// TestREADMECommandsRun runs the READMEs' command blocks as the package comment describes.
func TestREADMECommandsRun(t *testing.T) {
	root := servetest.RepoRoot(t)
	var runnable, all []block
	for _, f := range readmes {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		bs, err := parseBlocks(f, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.lang != "sh" {
				continue
			}
			all = append(all, b)
			if b.skip == "" {
				runnable = append(runnable, b)
			} else {
				t.Logf("%s:%d skipped: %s", b.file, b.line, b.skip)
			}
		}
	}
	if len(runnable) < 3 {
		t.Fatalf("only %d runnable sh blocks in %v; the README's examples are what this test is for", len(runnable), readmes)
	}

	work := t.TempDir()
	bin, err := servetest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "data", "build", ".git":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(work, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(work, "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(work, "build", "incidents")); err != nil {
		t.Fatal(err)
	}
	srv := servetest.Start(t, bin, filepath.Join(work, "data"))

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	script.WriteString("curl() { command curl --fail-with-body --show-error \"$@\"; }\n")
	for i, b := range runnable {
		fmt.Fprintf(&script, "printf '\\n@@docs-test begin %d\\n'\n%s\nprintf '\\n@@docs-test end %d\\n'\n", i, b.text, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "BASE="+srv.URL)
	out, runErr := cmd.CombinedOutput()

	// Attribute the output to its blocks.
	outputs := map[int]string{}
	ended := map[int]bool{}
	current := -1
	for _, l := range strings.Split(string(out), "\n") {
		var i int
		switch {
		case sscan(l, "@@docs-test begin %d", &i):
			current = i
		case sscan(l, "@@docs-test end %d", &i):
			ended[i] = true
			current = -1
		case current >= 0:
			outputs[current] += l + "\n"
		}
	}
	for i, b := range runnable {
		if !ended[i] {
			t.Fatalf("%s:%d: the block failed (%v):\n%s\noutput:\n%s", b.file, b.line, runErr, b.text, outputs[i])
		}
	}
	if runErr != nil {
		t.Fatalf("the blocks ran, then bash failed: %v\n%s", runErr, out)
	}
	if testing.Verbose() {
		for i, b := range runnable {
			t.Logf("%s:%d output:\n%s", b.file, b.line, outputs[i])
		}
	}
	t.Logf("ran %d of %d sh blocks; %d marked skip", len(runnable), len(all), len(all)-len(runnable))

	// The HTTP API block files, reads, lists and acknowledges a ticket: that must have happened
	// on the server, with the ID the block captured.
	req, _ := http.NewRequest("GET", srv.URL+"/ticket?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var page struct {
		Items []struct {
			ID, Title, Status string
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("list: %v: %s", err, body)
	}
	acked := ""
	for _, it := range page.Items {
		if it.Title == "VPN down" && it.Status == "acknowledged" {
			acked = it.ID
		}
	}
	if acked == "" {
		t.Fatalf("no acknowledged \"VPN down\" ticket after the README's examples: %s", body)
	}
	if !strings.Contains(string(out), "filed "+acked) {
		t.Errorf("the README did not capture the filed ticket's ID %s:\n%s", acked, out)
	}
}

func sscan(s, format string, v *int) bool {
	n, err := fmt.Sscanf(s, format, v)
	return err == nil && n == 1
}

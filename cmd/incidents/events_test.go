package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

type sse struct {
	id, event, data string
}

// readEvents reads Server-Sent Events from /events until ctx is done.
func readEvents(ctx context.Context, t *testing.T, s *server, lastID string) <-chan sse {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /events = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sse, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.event != "" {
					out <- cur
				}
				cur = sse{}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	return out
}

// TestLiveEvents: an admin's feed shows a ticket filed by someone else within moments, then
// its notification ending, and a reconnect resumes where it left off.
func TestLiveEvents(t *testing.T) {
	s := startServer(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if code, _, _ := s.request(t, "GET", "/events", "", false); code != http.StatusUnauthorized {
		t.Errorf("GET /events without the token = %d, want 401", code)
	}
	feed := readEvents(ctx, t, s, "")
	tk := s.create(t, "Live one")
	var seen []TicketEventData
	var lastID string
	deadline := time.After(5 * time.Second)
	for len(seen) < 2 {
		select {
		case ev := <-feed:
			var d TicketEventData
			json.Unmarshal([]byte(ev.data), &d)
			if ev.event == "ticket" && d.ID == tk.ID {
				seen = append(seen, d)
				lastID = ev.id
			}
		case <-deadline:
			t.Fatalf("after 5 s the feed showed %+v for the ticket, want its creation and its notification", seen)
		}
	}
	if !seen[0].Created || strings.Contains(strings.Join([]string{seen[0].Status, seen[0].Notification}, " "), "ada@") {
		t.Errorf("first event %+v, want the creation", seen[0])
	}
	// Resume from before the last event: it is replayed.
	cancel()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var n int
	fmt.Sscan(lastID, &n)
	again := readEvents(ctx2, t, s, fmt.Sprint(n-1))
	select {
	case ev := <-again:
		if ev.id != lastID || ev.event != "ticket" {
			t.Errorf("after Last-Event-ID %d the feed gave %+v, want event %s again", n-1, ev, lastID)
		}
	case <-time.After(3 * time.Second):
		t.Error("a reconnect with Last-Event-ID got nothing back")
	}
}

// TicketEventData is what a "ticket" event carries.
type TicketEventData struct {
	ID           string `json:"id"`
	Created      bool   `json:"created"`
	Status       string `json:"status"`
	Notification string `json:"notification"`
}

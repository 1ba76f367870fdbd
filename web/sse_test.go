package web_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSSEParser runs the app's Server-Sent Events parser (js/sse.js, which live.js feeds from
// fetch) in the browser on streams cut at awkward places.
func TestSSEParser(t *testing.T) {
	type event struct {
		Type        string `json:"type"`
		Data        string `json:"data"`
		LastEventID string `json:"lastEventId"`
	}
	type result struct {
		Events      []event `json:"events"`
		LastEventID string  `json:"lastEventId"`
		Retry       *int    `json:"retry"`
	}
	two := 2000
	tests := []struct {
		name   string
		chunks []string
		want   result
	}{
		{"OneEvent", []string{"id: 1\nevent: ticket\ndata: {\"id\":\"a\"}\n\n"},
			result{Events: []event{{"ticket", `{"id":"a"}`, "1"}}, LastEventID: "1"}},
		{"CommentsAndRetryAreNotEvents", []string{"retry: 2000\n: connected\n\n: keep-alive\n\n"},
			result{LastEventID: "", Retry: &two}},
		{"CutInsideALineAndBetweenCRAndLF", []string{"id: 7\r", "\nevent: tick", "et\r\ndata: x\r", "\n\r\n"},
			result{Events: []event{{"ticket", "x", "7"}}, LastEventID: "7"}},
		{"CRAlone", []string{"data: a\rdata: b\r\r"},
			result{Events: []event{{"message", "a\nb", ""}}}},
		{"MultiLineDataAndNoSpaceAfterColon", []string{"data:one\ndata: two\n\n"},
			result{Events: []event{{"message", "one\ntwo", ""}}}},
		{"IDKeptAcrossEvents", []string{"id: 5\ndata: a\n\ndata: b\n\n"},
			result{Events: []event{{"message", "a", "5"}, {"message", "b", "5"}}, LastEventID: "5"}},
		{"EventWithoutDataIsDropped", []string{"event: reset\n\nevent: reset\ndata: {}\n\n"},
			result{Events: []event{{"reset", "{}", ""}}}},
		{"ByteOrderMarkAndUnknownFields", []string{"\ufeffdata: a\nfoo: bar\nretry: soon\n\n"},
			result{Events: []event{{"message", "a", ""}}}},
		{"UnfinishedEventIsNotDispatched", []string{"data: a\n\ndata: half"},
			result{Events: []event{{"message", "a", ""}}}},
		{"IDWithNULIsIgnored", []string{"id: 3\n\nid: 4\u0000\ndata: a\n\n"},
			result{Events: []event{{"message", "a", "3"}}, LastEventID: "3"}},
	}
	s := startServer(t)
	tb := newTab(t)
	tb.open(s.URL + "/")
	tb.wait("the app", `document.querySelector('#f-title')`, 5*time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks, _ := json.Marshal(tt.chunks)
			out, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`import('./js/sse.js').then(m => JSON.stringify(m.parseAll(`+string(chunks)+`)))`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			var got result
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want.Events == nil {
				want.Events = []event{}
			}
			if got.Events == nil {
				got.Events = []event{}
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("parsed %q\n got %s\nwant %s", tt.chunks, gotJSON, wantJSON)
			}
		})
	}
}

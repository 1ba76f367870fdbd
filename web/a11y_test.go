package web_test

// Accessibility and appearance helpers for the browser tests: axe-core (the npm package pinned
// in package-lock.json, injected into the page from node_modules, never served by the app),
// emulated colour schemes, time zones and the accessibility tree.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var axeSource = sync.OnceValues(func() (string, error) {
	path := filepath.Join("..", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("axe-core is not installed (%v): run `npm ci` in the repository root (make test does)", err)
	}
	return string(b), nil
})

type axeViolation struct {
	ID    string `json:"id"`
	Help  string `json:"help"`
	Nodes []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
		HTML    string `json:"html"`
	} `json:"nodes"`
}

// axe runs axe-core on the page (WCAG 2.0–2.2 A and AA plus best practices) and fails the test
// for every violation, naming the rule, the element and why.
func (tb *tab) axe(where string) {
	tb.t.Helper()
	src, err := axeSource()
	if err != nil {
		tb.t.Fatal(err)
	}
	if !eval[bool](tb, `typeof window.axe === 'object'`) {
		// Runtime.evaluate is not subject to the page's CSP, so the app's policy stays as strict
		// as it is in production.
		if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[any](src+"\n;true")); err != nil {
			tb.t.Fatalf("injecting axe-core: %v", err)
		}
	}
	out, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
		resultTypes: ['violations'],
	}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("running axe-core on %s: %v", where, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		tb.t.Fatalf("axe-core result on %s: %v", where, err)
	}
	for _, v := range vs {
		for _, n := range v.Nodes {
			tb.t.Errorf("axe on %s (%s): %s: %s at %v\n  %s\n  %s", where, tb.scheme(), v.ID, v.Help, n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n  "))
		}
	}
}

// axeBoth runs axe in the light and in the dark colour scheme, then goes back to light.
func (tb *tab) axeBoth(where string) {
	tb.t.Helper()
	tb.colorScheme("light")
	tb.axe(where)
	tb.colorScheme("dark")
	tb.axe(where)
	tb.colorScheme("light")
}

// colorScheme emulates prefers-color-scheme.
func (tb *tab) colorScheme(v string) {
	tb.t.Helper()
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}},
	}); err != nil {
		tb.t.Fatal(err)
	}
}

// scheme is the colour scheme in effect ("light" or "dark"), as the page sees it.
func (tb *tab) scheme() string {
	tb.t.Helper()
	return eval[string](tb, `getComputedStyle(document.documentElement).colorScheme.includes('dark') && !getComputedStyle(document.documentElement).colorScheme.includes('light') ? 'dark' : (document.documentElement.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'))`)
}

// timeZone overrides the browser's time zone.
func (tb *tab) timeZone(id string) {
	tb.t.Helper()
	if _, err := chromedp.Call(tb.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: id}); err != nil {
		tb.t.Fatal(err)
	}
}

type axNode struct{ role, name string }

// axNodes returns the roles and accessible names of the page as assistive technology gets them.
func (tb *tab) axNodes() []axNode {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		tb.t.Fatal(err)
	}
	var out []axNode
	str := func(v *accessibility.Value) string {
		if v == nil || len(v.Value) == 0 {
			return ""
		}
		var s string
		if json.Unmarshal(v.Value, &s) != nil {
			return string(v.Value)
		}
		return s
	}
	for _, n := range res.Nodes {
		if n.Ignored {
			continue
		}
		out = append(out, axNode{role: str(n.Role), name: str(n.Name)})
	}
	return out
}

// press types keys as a person's keyboard does: each key's keydown carries its text, so a
// page that handles the keydown (preventDefault) keeps the character out of the next field,
// as in a real browser. chromedp.KeyEvent sends the text as a separate "char" event, which
// no page can cancel.
func (tb *tab) press(keys string) {
	tb.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		for _, r := range keys {
			evs := kb.Encode(r)
			var text string
			for _, k := range evs {
				if k.Type == kb.KeyChar {
					text = k.Text
				}
			}
			for _, k := range evs {
				if k.Type == kb.KeyChar {
					continue
				}
				p := *k
				if p.Type == kb.KeyDown {
					p.Text, p.UnmodifiedText = text, text
				}
				if _, err := cdp.Call(ctx, target, input.DispatchKeyEvent, p); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

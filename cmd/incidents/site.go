package main

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/incidentmanager/incidents/statemachine"
	"github.com/incidentmanager/incidents/web"
)

// siteConfig is what the web app learns from /config.js.
type siteConfig struct {
	mode    string
	apiBase string
}

// contentSecurityPolicy allows only the app's own scripts and styles: user text can never
// become code, even if it slipped into the DOM as markup.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// site serves the web app around the API: the API's routes go to apiHandler, /config.js and
// /workflow.asl.json are generated, every other path is a static file with a fallback to
// index.html for client-side routes. Every response carries the security headers.
func site(apiHandler http.Handler, c siteConfig) http.Handler {
	files := web.Files()
	static := http.FileServerFS(files)
	cfgJS, _ := json.Marshal(map[string]string{"apiBase": c.apiBase, "mode": c.mode})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		p := r.URL.Path
		switch {
		case p == "/ticket" || strings.HasPrefix(p, "/ticket/") || strings.HasPrefix(p, "/admin/") || p == "/healthz" || p == "/events" || strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v2/"):
			apiHandler.ServeHTTP(w, r)
		case p == "/config.js":
			h.Set("Content-Type", "text/javascript; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			w.Write([]byte("window.INCIDENTS_CONFIG = " + string(cfgJS) + ";\n"))
		case p == "/workflow.asl.json":
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-cache")
			w.Write(statemachine.Definition)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			apiHandler.ServeHTTP(w, r)
		default:
			name := strings.TrimPrefix(path.Clean(p), "/")
			if name == "" {
				name = "index.html"
			}
			if st, err := fs.Stat(files, name); err != nil || st.IsDir() {
				// Client-side routes (and unknown paths) get the app, which shows its own 404.
				r = r.Clone(r.Context())
				r.URL.Path = "/"
			}
			h.Set("Cache-Control", "no-cache")
			static.ServeHTTP(w, r)
		}
	})
}

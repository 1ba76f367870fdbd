// Package web holds the single-page app that reporters and admins use. It is plain HTML, CSS and
// ES modules with no build step, so the same files are embedded in the local binary and uploaded
// as-is to the S3 bucket behind CloudFront. The server adds two generated files next to them:
// /config.js (API base URL and mode) and /workflow.asl.json (the workflow definition to draw).
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the site root: index.html and its assets at the top level.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// Unreachable: "static" is embedded above, so fs.Sub cannot fail.
		panic(err)
	}
	return sub
}

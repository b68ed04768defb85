// Package static holds the dashboard's assets: the vendored htmx (its
// version in the file name, with its licence beside it) and vigil.css.
// internal/web serves them under a content hash.
package static

import "embed"

// FS holds every asset of this directory (this Go file excepted).
//
//go:embed *.css *.js *.LICENSE
var FS embed.FS

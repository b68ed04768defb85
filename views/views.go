// Package views holds the dashboard's html/template files:
//
//   - layouts/main.html defines "layout", the page shell;
//   - pages/<page>.html define "title" and "content" for one page;
//   - partials/<noun>_<part>.html each define exactly one template named
//     <noun>_<part>, the fragment an htmx request receives.
//
// internal/web parses them all at start-up and refuses to start when one is
// missing or names a template nobody defines.
package views

import "embed"

// FS holds layouts/, pages/ and partials/.
//
//go:embed layouts/*.html pages/*.html partials/*.html
var FS embed.FS

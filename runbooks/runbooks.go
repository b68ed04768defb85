// Package runbooks holds the runbooks vigil ships, one markdown file per
// failure mode, embedded for the training sandbox. A deployment keeps its
// own runbooks folder beside its config (or at runbooks_dir).
package runbooks

import "embed"

// FS is the shipped runbooks (*.md).
//
//go:embed *.md
var FS embed.FS

package config

import (
	"os"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// Scriptlog is the optional `scriptlog` section:
//
//	scriptlog: {key_file: vigil-scriptlog.key, anchor_file: /var/lib/vigil-anchors/heads.log}
type Scriptlog struct {
	// KeyFile (made relative to Dir) holds the key of the script log's
	// chain; Key is read from it at load (its bytes, exactly). Without one
	// the log is unkeyed. `vigil serve` requires it when auth is
	// configured.
	KeyFile string        `yaml:"key_file"`
	Key     scriptlog.Key `yaml:"-"`
	// AnchorFile (made relative to Dir), when set, is where `vigil serve`
	// appends the log's head as it changes.
	AnchorFile string `yaml:"anchor_file"`

	keyBytes []byte // for SecretValues
}

func (l *loader) scriptlog(top *decoded) {
	s := &l.cfg.Scriptlog
	if s.KeyFile != "" && !top.reported("scriptlog.key_file") {
		written := s.KeyFile
		s.KeyFile = l.relative(s.KeyFile)
		b, err := os.ReadFile(s.KeyFile)
		switch {
		case err != nil:
			top.problem("scriptlog.key_file", "key_file: cannot read %q: %v", written, err)
		case len(b) < scriptlog.MinKeyBytes:
			// Never echo the content: it is a secret, however short.
			top.problem("scriptlog.key_file", "key_file: %q holds %d bytes; a key needs at least %d random bytes (%s)",
				written, len(b), scriptlog.MinKeyBytes, scriptlog.CreateKeyHint)
		default:
			s.Key, _ = scriptlog.NewKey(b)
			s.keyBytes = b
		}
	}
	if s.AnchorFile != "" {
		s.AnchorFile = l.relative(s.AnchorFile)
	}
}

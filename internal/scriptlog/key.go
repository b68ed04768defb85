package scriptlog

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// MinKeyBytes is the shortest key NewKey accepts: 32 bytes, the output size
// of SHA-256 (RFC 2104 section 3: a key shorter than the hash output
// "would decrease the security strength of the function").
const MinKeyBytes = 32

// CreateKeyHint tells an operator how to create a key.
const CreateKeyHint = "create one with: head -c 32 /dev/urandom > vigil-scriptlog.key && chmod 600 vigil-scriptlog.key, " +
	"then set scriptlog: {key_file: vigil-scriptlog.key} in vigil.yaml (relative to the config), and keep the file outside the store"

// Key is the secret that keys the chain: with it each entry's hash is an
// HMAC-SHA256, which nobody without the key can recompute, so a store
// writer who edits, deletes or forges an entry cannot hide it. The zero Key
// means unkeyed (the public SHA-256 encoding). A Key never prints its
// secret: it prints as its ID.
type Key struct {
	id     string
	secret []byte
}

// NewKey returns the key whose secret is b, exactly as given (a key file's
// bytes are the key: nothing is trimmed). It fails on fewer than
// MinKeyBytes bytes.
func NewKey(b []byte) (Key, error) {
	if len(b) < MinKeyBytes {
		return Key{}, fmt.Errorf("scriptlog: a key needs at least %d bytes, got %d (%s)", MinKeyBytes, len(b), CreateKeyHint)
	}
	secret := append([]byte(nil), b...)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("vigil-scriptlog key id"))
	return Key{id: hex.EncodeToString(m.Sum(nil))[:16], secret: secret}, nil
}

// ReadKeyFile reads the key in the file at path (see NewKey).
func ReadKeyFile(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("scriptlog: read key: %w", err)
	}
	k, err := NewKey(b)
	if err != nil {
		return Key{}, fmt.Errorf("%w: in %s", err, path)
	}
	return k, nil
}

// ID is the key's fingerprint: 16 hex digits derived from the key by
// HMAC, safe to print and to store (it does not reveal the key). It is ""
// for the zero Key.
func (k Key) ID() string { return k.id }

// IsZero reports whether k is the zero Key (unkeyed).
func (k Key) IsZero() bool { return k.id == "" }

// String is "key <id>", or "unkeyed" for the zero Key.
func (k Key) String() string {
	if k.IsZero() {
		return "unkeyed"
	}
	return "key " + k.id
}

// GoString keeps %#v from printing the secret.
func (k Key) GoString() string { return "scriptlog.Key{" + k.String() + "}" }

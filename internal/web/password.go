package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// argon2Params are the cost parameters of an argon2id hash.
type argon2Params struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

// defaultArgon2 follows the OWASP recommendation (19 MiB, 2 passes, 1 lane).
var defaultArgon2 = argon2Params{memory: 19 * 1024, time: 2, threads: 1}

// HashPassword returns an argon2id hash of password in the PHC form that
// auth.users[].password_hash accepts:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string) (string, error) {
	return hashArgon2id(password, defaultArgon2)
}

func hashArgon2id(password string, p argon2Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("web: hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// verifier runs password checks, at most GOMAXPROCS (and maxVerifying)
// at once: an argon2id check holds its memory (19 MiB at the default cost)
// until it ends, so a burst of logins must queue instead of multiplying it.
// A check that cannot start within wait fails with errBusy.
type verifier struct {
	slots chan struct{}
	wait  time.Duration
}

// verifyWait is how long a login waits for a free password check;
// maxVerifying bounds the checks at once on many-core machines too (4 x
// 19 MiB), still some 50 logins a second.
const (
	verifyWait   = 2 * time.Second
	maxVerifying = 4
)

// errBusy: every password-check slot stayed taken for the verifier's wait.
var errBusy = errors.New("too many password checks at once")

func newVerifier() *verifier {
	return &verifier{slots: make(chan struct{}, min(runtime.GOMAXPROCS(0), maxVerifying)), wait: verifyWait}
}

// check is checkPassword within the concurrency cap; an error wrapping
// errBusy means the password was not checked (no slot freed up in time, or
// ctx ended first).
func (v *verifier) check(ctx context.Context, hash, password string) (bool, error) {
	t := time.NewTimer(v.wait)
	defer t.Stop()
	select {
	case v.slots <- struct{}{}:
	case <-t.C:
		return false, errBusy
	case <-ctx.Done():
		return false, fmt.Errorf("%w: %w", errBusy, ctx.Err())
	}
	defer func() { <-v.slots }()
	return checkPassword(hash, password)
}

// errBadHash is a password hash vigil cannot read.
var errBadHash = errors.New("not a bcrypt or argon2id hash")

// checkPassword reports whether password matches hash (bcrypt or
// argon2id). An unreadable hash is an error, never a match.
func checkPassword(hash, password string) (bool, error) {
	if !strings.HasPrefix(hash, "$argon2id$") {
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, fmt.Errorf("%w: %v", errBadHash, err)
		}
	}
	// $argon2id$v=19$m=..,t=..,p=..$salt$key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errBadHash
	}
	var p argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil || p.time == 0 || p.threads == 0 {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 1024 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked when the user name is unknown and no user is
// configured (bcrypt, cost 10, of a random string nobody knows).
const dummyHash = "$2a$10$EjpHkCw02otQ0b6w9E9c0.B6PYk.YViAuzl4Tzla6VfX9zeC2MuVG"

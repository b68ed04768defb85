package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// authDrivers opens a fresh store of each driver for the session and token
// tests.
var authDrivers = []struct {
	name string
	open func(t *testing.T) *store.Store
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func TestSessions(t *testing.T) {
	for _, d := range authDrivers {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := d.open(t)
			t0 := time.Date(2025, 3, 9, 12, 0, 0, 123, time.UTC)
			alice := store.Session{IDHash: "aa", User: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), Remote: "10.0.0.1", UserAgent: "curl"}
			for _, sess := range []store.Session{
				alice,
				{IDHash: "ab", User: "alice", CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)},
				{IDHash: "bb", User: "bob", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)},
			} {
				if err := s.CreateSession(ctx, sess); err != nil {
					t.Fatalf("CreateSession(%s): %v", sess.IDHash, err)
				}
			}
			if err := s.CreateSession(ctx, store.Session{IDHash: "aa", User: "mallory", ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, store.ErrConflict) {
				t.Errorf("CreateSession with a taken id = %v, want ErrConflict", err)
			}
			if err := s.CreateSession(ctx, store.Session{IDHash: "cc", User: "carol"}); !errors.Is(err, store.ErrInvalid) {
				t.Error("CreateSession without an expiry succeeded")
			}

			got, err := s.Session(ctx, "aa", t0.Add(59*time.Minute))
			if err != nil {
				t.Fatalf("Session(aa): %v", err)
			}
			if got != alice {
				t.Errorf("Session(aa) = %+v, want %+v", got, alice)
			}
			lookups := []struct {
				name string
				id   string
				now  time.Time
			}{
				{name: "expired exactly", id: "aa", now: t0.Add(time.Hour)},
				{name: "expired long ago", id: "bb", now: t0.Add(time.Hour)},
				{name: "unknown", id: "zz", now: t0},
			}
			for _, l := range lookups {
				if _, err := s.Session(ctx, l.id, l.now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s: Session(%s) = %v, want ErrNotFound", l.name, l.id, err)
				}
			}

			n, err := s.DeleteExpiredSessions(ctx, t0.Add(time.Hour))
			if err != nil || n != 2 {
				t.Errorf("DeleteExpiredSessions = %d, %v; want 2 (aa and bb)", n, err)
			}
			if _, err := s.Session(ctx, "ab", t0); err != nil {
				t.Errorf("unexpired session ab gone: %v", err)
			}
			if err := s.DeleteSession(ctx, "ab"); err != nil {
				t.Fatalf("DeleteSession: %v", err)
			}
			if err := s.DeleteSession(ctx, "ab"); err != nil {
				t.Errorf("DeleteSession of a deleted session: %v", err)
			}
			if _, err := s.Session(ctx, "ab", t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Session after DeleteSession = %v, want ErrNotFound", err)
			}

			for _, id := range []string{"x1", "x2"} {
				if err := s.CreateSession(ctx, store.Session{IDHash: id, User: "carol", ExpiresAt: t0.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := s.DeleteUserSessions(ctx, "carol"); err != nil || n != 2 {
				t.Errorf("DeleteUserSessions = %d, %v; want 2", n, err)
			}
		})
	}
}

func TestAPITokens(t *testing.T) {
	for _, d := range authDrivers {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := d.open(t)
			t0 := time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)
			ci := store.APIToken{Name: "ci", SHA256: "h1", Role: "operator", CreatedBy: "alice", CreatedAt: t0}
			id, err := s.CreateAPIToken(ctx, ci)
			if err != nil {
				t.Fatalf("CreateAPIToken: %v", err)
			}
			ci.ID = id

			conflicts := []struct {
				name string
				tok  store.APIToken
			}{
				{name: "same name", tok: store.APIToken{Name: "ci", SHA256: "h2", Role: "viewer"}},
				{name: "same hash", tok: store.APIToken{Name: "other", SHA256: "h1", Role: "viewer"}},
			}
			for _, c := range conflicts {
				if _, err := s.CreateAPIToken(ctx, c.tok); !errors.Is(err, store.ErrConflict) {
					t.Errorf("%s: CreateAPIToken = %v, want ErrConflict", c.name, err)
				}
			}
			if _, err := s.CreateAPIToken(ctx, store.APIToken{Name: "x", SHA256: "h9"}); !errors.Is(err, store.ErrInvalid) {
				t.Error("CreateAPIToken without a role succeeded")
			}

			got, err := s.APITokenBySHA256(ctx, "h1")
			if err != nil || got != ci {
				t.Errorf("APITokenBySHA256(h1) = %+v, %v; want %+v", got, err, ci)
			}
			if _, err := s.APITokenBySHA256(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("APITokenBySHA256(nope) = %v, want ErrNotFound", err)
			}

			revokedAt := t0.Add(time.Hour)
			if err := s.RevokeAPIToken(ctx, id, revokedAt); err != nil {
				t.Fatalf("RevokeAPIToken: %v", err)
			}
			if err := s.RevokeAPIToken(ctx, id, revokedAt); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("second RevokeAPIToken = %v, want ErrNotFound", err)
			}
			if _, err := s.APITokenBySHA256(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("revoked token still authenticates: %v", err)
			}
			// A revoked token's name is free again; its hash is not.
			id2, err := s.CreateAPIToken(ctx, store.APIToken{Name: "ci", SHA256: "h2", Role: "viewer", CreatedAt: t0})
			if err != nil {
				t.Fatalf("CreateAPIToken reusing a revoked name: %v", err)
			}
			all, err := s.APITokens(ctx)
			if err != nil {
				t.Fatalf("APITokens: %v", err)
			}
			ci.RevokedAt = revokedAt
			want := []store.APIToken{ci, {ID: id2, Name: "ci", SHA256: "h2", Role: "viewer", CreatedAt: t0}}
			if len(all) != 2 || all[0] != want[0] || all[1] != want[1] {
				t.Errorf("APITokens = %+v, want %+v", all, want)
			}
		})
	}
}

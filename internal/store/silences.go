package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Silence stops alerts for a check, or for every check carrying a tag,
// until a set time. Silences are never deleted: an ended one stays listed
// with who set it and, when it was ended early, who ended it.
type Silence struct {
	ID int64
	// Matcher is a check id or a tag (such as "team:policy"); a check
	// matches when its id equals it or one of its tags does.
	Matcher string
	// StartsAt is when the silence starts: CreatedAt unless it was set to
	// start later. Until then it silences nothing.
	StartsAt time.Time
	// Until is when the silence expires by itself.
	Until     time.Time
	Author    string
	Reason    string
	CreatedAt time.Time
	// ExpiredAt and ExpiredBy are set when someone ended it before Until.
	ExpiredAt time.Time
	ExpiredBy string
}

// Active reports whether the silence is in force at now: started, not
// ended early and now before Until.
func (s Silence) Active(now time.Time) bool {
	return s.ExpiredAt.IsZero() && !now.Before(s.StartsAt) && now.Before(s.Until)
}

// Pending reports whether the silence is set to start after now (and was
// not ended before it started).
func (s Silence) Pending(now time.Time) bool {
	return s.ExpiredAt.IsZero() && now.Before(s.StartsAt)
}

// Matches reports whether the silence covers a check with this id and tags.
func (s Silence) Matches(checkID string, tags []string) bool {
	return s.Matcher == checkID || slices.Contains(tags, s.Matcher)
}

const silenceColumns = "id, matcher, until_at, author, reason, created_at, expired_at, expired_by, starts_at"

func scanSilence(row scanner) (Silence, error) {
	var (
		s                                 Silence
		until, created, expiredAt, starts sql.NullInt64
	)
	if err := row.Scan(&s.ID, &s.Matcher, &until, &s.Author, &s.Reason, &created, &expiredAt, &s.ExpiredBy, &starts); err != nil {
		return Silence{}, err
	}
	s.Until, s.CreatedAt, s.ExpiredAt, s.StartsAt = timeFrom(until), timeFrom(created), timeFrom(expiredAt), timeFrom(starts)
	if s.StartsAt.IsZero() {
		s.StartsAt = s.CreatedAt
	}
	return s, nil
}

// CreateSilence stores a new silence and returns it with its ID. Matcher,
// Author and Reason are required (ErrInvalid when blank). A zero CreatedAt
// is the store's clock and a zero StartsAt is CreatedAt; StartsAt may not
// be before CreatedAt, and Until must be after StartsAt (ErrInvalid).
// ExpiredAt/ExpiredBy are ignored.
func (s *Store) CreateSilence(ctx context.Context, in Silence) (Silence, error) {
	wrap := func(err error) error { return fmt.Errorf("store: create silence for %q: %w", in.Matcher, err) }
	if in.CreatedAt.IsZero() {
		in.CreatedAt = s.now()
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{"matcher", in.Matcher}, {"author", in.Author}, {"reason", in.Reason}} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Silence{}, wrap(fmt.Errorf("%s required: %w", strings.Join(missing, ", "), ErrInvalid))
	}
	if in.StartsAt.IsZero() {
		in.StartsAt = in.CreatedAt
	}
	if in.StartsAt.Before(in.CreatedAt) {
		return Silence{}, wrap(fmt.Errorf("start %s is before %s: %w", in.StartsAt.UTC().Format(time.RFC3339), in.CreatedAt.UTC().Format(time.RFC3339), ErrInvalid))
	}
	if !in.Until.After(in.StartsAt) {
		return Silence{}, wrap(fmt.Errorf("until %s is not after %s: %w", in.Until.UTC().Format(time.RFC3339), in.StartsAt.UTC().Format(time.RFC3339), ErrInvalid))
	}
	ts, err := times(in.Until, in.CreatedAt, in.StartsAt)
	if err != nil {
		return Silence{}, wrap(fmt.Errorf("%w: %w", err, ErrInvalid))
	}
	var out Silence
	err = s.WithTx(ctx, func(tx *Tx) error {
		var err error
		out, err = scanSilence(tx.queryRow(ctx, `INSERT INTO silences (matcher, until_at, author, reason, created_at, starts_at)
	VALUES (?, ?, ?, ?, ?, ?) RETURNING `+silenceColumns,
			cleanText(strings.TrimSpace(in.Matcher)), ts[0], cleanText(in.Author), cleanText(in.Reason), ts[1], ts[2]))
		return err
	})
	if err != nil {
		return Silence{}, wrap(err)
	}
	return out, nil
}

// ExpireSilence ends a silence early, recording who and when. It returns
// the silence as updated, ErrInvalid without who, ErrNotFound for an
// unknown silence, and ErrConflict when it had already ended (early or by
// itself at or before at).
func (s *Store) ExpireSilence(ctx context.Context, id int64, who string, at time.Time) (Silence, error) {
	wrap := func(err error) error { return fmt.Errorf("store: expire silence %d: %w", id, err) }
	if strings.TrimSpace(who) == "" {
		return Silence{}, wrap(fmt.Errorf("who is required: %w", ErrInvalid))
	}
	v, err := timeValue(at)
	if err != nil || !v.Valid {
		return Silence{}, wrap(fmt.Errorf("time %v: %w", at, ErrInvalid))
	}
	var out Silence
	err = s.WithTx(ctx, func(tx *Tx) error {
		var err error
		// Ending it early also marks its expiry handled: only a silence that
		// runs out by itself announces the incidents it was hiding.
		out, err = scanSilence(tx.queryRow(ctx, `UPDATE silences SET expired_at = ?, expired_by = ?, expiry_handled = TRUE
	WHERE id = ? AND expired_at IS NULL AND until_at > ? RETURNING `+silenceColumns, v, cleanText(who), id, v))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM silences WHERE id = ?", id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return fmt.Errorf("silence %d has already ended: %w", id, ErrConflict)
	})
	if err != nil {
		return Silence{}, wrap(err)
	}
	return out, nil
}

// Silence returns a silence by id, or ErrNotFound.
func (s *Store) Silence(ctx context.Context, id int64) (Silence, error) {
	out, err := scanSilence(s.read.QueryRowContext(ctx, s.d.rebind("SELECT "+silenceColumns+" FROM silences WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Silence{}, fmt.Errorf("store: silence %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Silence{}, fmt.Errorf("store: silence %d: %w", id, err)
	}
	return out, nil
}

// Silences returns silences newest first, ended ones included: at most
// limit (DefaultLimit when <= 0, never more than MaxLimit) with an id
// below before (no bound when before <= 0).
func (s *Store) Silences(ctx context.Context, before int64, limit int) ([]Silence, error) {
	q, args := "SELECT "+silenceColumns+" FROM silences", []any{}
	if before > 0 {
		q, args = q+" WHERE id < ?", append(args, before)
	}
	q, args = q+" ORDER BY id DESC LIMIT ?", append(args, pageSize(limit))
	out, err := querySilences(ctx, s.read, s.d, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: silences: %w", err)
	}
	return out, nil
}

// ActiveSilences returns the silences in force at now, oldest first.
func (s *Store) ActiveSilences(ctx context.Context, now time.Time) ([]Silence, error) {
	out, err := activeSilences(ctx, s.read, s.d, now)
	if err != nil {
		return nil, fmt.Errorf("store: active silences: %w", err)
	}
	return out, nil
}

// ActiveSilences is Store.ActiveSilences inside tx.
func (tx *Tx) ActiveSilences(ctx context.Context, now time.Time) ([]Silence, error) {
	out, err := activeSilences(ctx, fixedQuerier{tx}, tx.s.d, now)
	if err != nil {
		return nil, fmt.Errorf("store: active silences: %w", err)
	}
	return out, nil
}

// ExpiredSilences returns, oldest first, the silences that ran out by
// themselves at or before now and whose expiry was not yet claimed with
// ClaimSilenceExpiry.
func (s *Store) ExpiredSilences(ctx context.Context, now time.Time) ([]Silence, error) {
	v, err := timeValue(now)
	if err != nil {
		return nil, fmt.Errorf("store: expired silences: %w", err)
	}
	out, err := querySilences(ctx, s.read, s.d, "SELECT "+silenceColumns+
		" FROM silences WHERE expired_at IS NULL AND expiry_handled = FALSE AND until_at <= ? ORDER BY id", v)
	if err != nil {
		return nil, fmt.Errorf("store: expired silences: %w", err)
	}
	return out, nil
}

// ClaimSilenceExpiry marks a silence's natural expiry as handled. It
// reports true only to the first caller, so the expiry is announced once
// however many replicas see it.
func (tx *Tx) ClaimSilenceExpiry(ctx context.Context, id int64) (bool, error) {
	res, err := tx.exec(ctx, "UPDATE silences SET expiry_handled = TRUE WHERE id = ? AND expiry_handled = FALSE", id)
	if err != nil {
		return false, fmt.Errorf("store: claim expiry of silence %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: claim expiry of silence %d: %w", id, err)
	}
	return n == 1, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const activeSilencesSQL = "SELECT " + silenceColumns + " FROM silences WHERE expired_at IS NULL AND until_at > ? AND COALESCE(starts_at, created_at) <= ? ORDER BY id"

func activeSilences(ctx context.Context, db querier, d dialect, now time.Time) ([]Silence, error) {
	v, err := timeValue(now)
	if err != nil {
		return nil, err
	}
	return querySilences(ctx, db, d, activeSilencesSQL, v, v)
}

func querySilences(ctx context.Context, db querier, d dialect, q string, args ...any) ([]Silence, error) {
	return scanAll(scanSilence)(db.QueryContext(ctx, d.rebind(q), args...))
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A migration file is named NNNN_name.sql when its SQL is portable, or
// NNNN_name.sqlite.sql plus NNNN_name.postgres.sql when the dialects need
// different SQL. Numbers are unique; a number with a dialect-specific file
// must have one for every dialect.
//
// Numbers are reserved by feature: 0001-0002 results and audit, 0003 the
// script log, 0004 and up later features.
type migration struct {
	version int
	name    string // file name, for messages and the schema_migrations record
	sql     string
}

var dialectNames = []string{"sqlite", "postgres"}

// loadMigrations reads and validates every migration file in fsys (the whole
// set, for both dialects, so a missing dialect file fails on either driver)
// and returns the ones for dialect in ascending order.
func loadMigrations(fsys fs.FS, dialect string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	type set struct {
		stem   string            // NNNN_name
		shared string            // portable file, if any
		per    map[string]string // dialect -> file
	}
	byVersion := map[int]*set{}
	var errs []error
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() || !strings.HasSuffix(file, ".sql") {
			errs = append(errs, fmt.Errorf("migration %s: want NNNN_name.sql or NNNN_name.<dialect>.sql", file))
			continue
		}
		stem, dia := strings.TrimSuffix(file, ".sql"), ""
		for _, dn := range dialectNames {
			if strings.HasSuffix(stem, "."+dn) {
				stem, dia = strings.TrimSuffix(stem, "."+dn), dn
			}
		}
		num, label, ok := strings.Cut(stem, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || version <= 0 || label == "" || strings.Contains(label, ".") {
			errs = append(errs, fmt.Errorf("migration %s: want NNNN_name.sql or NNNN_name.<dialect>.sql (dialect %s)", file, strings.Join(dialectNames, " or ")))
			continue
		}
		s := byVersion[version]
		if s == nil {
			s = &set{stem: stem, per: map[string]string{}}
			byVersion[version] = s
		}
		switch {
		case s.stem != stem:
			errs = append(errs, fmt.Errorf("migration %s: version %d is also used by %s", file, version, s.stem))
		case dia == "":
			s.shared = file
		default:
			s.per[dia] = file
		}
	}
	var out []migration
	for version, s := range byVersion {
		if s.shared != "" && len(s.per) > 0 {
			errs = append(errs, fmt.Errorf("migration %s: has both a portable and a dialect-specific file", s.stem))
			continue
		}
		file := s.shared
		if file == "" {
			for _, dn := range dialectNames {
				if s.per[dn] == "" {
					errs = append(errs, fmt.Errorf("migration %s: missing %s.%s.sql", s.stem, s.stem, dn))
				}
			}
			file = s.per[dialect]
		}
		if file == "" {
			continue
		}
		body, err := fs.ReadFile(fsys, file)
		if err != nil {
			errs = append(errs, fmt.Errorf("migration %s: %w", file, err))
			continue
		}
		out = append(out, migration{version: version, name: file, sql: string(body)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate applies, in ascending order, every migration not yet recorded in
// schema_migrations. Each runs in its own transaction together with its
// record, so a failing migration leaves neither its changes nor a record.
// Versions recorded by a newer binary are left alone.
func migrate(ctx context.Context, db *sql.DB, d dialect, ms []migration, now func() time.Time) error {
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		if err := d.lockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			if err := d.lockMigrations(ctx, tx); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			// Another replica may have applied it while we waited for the lock.
			var n int
			if err := tx.QueryRowContext(ctx, d.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, d.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
				m.version, m.name, now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
	}
	return nil
}

func appliedVersions(ctx context.Context, db *sql.DB) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}

// inTx runs fn in a transaction on db, committing when fn returns nil and
// rolling back otherwise.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// TestErrorsByCode: the sink tells server errors by SQLSTATE, so a server
// whose messages are translated (lc_messages) is understood the same way.
func TestErrorsByCode(t *testing.T) {
	wrap := func(e *pgconn.PgError) error { return fmt.Errorf("exec: %w", e) }
	tg := &target{cols: []string{`"id"`, `"v"`}, key: []int{0}}
	for _, c := range []struct {
		err    error
		hint   bool // upsertErr names the missing unique index
		exists bool // alreadyExists
	}{
		{wrap(&pgconn.PgError{Code: "42P10", Message: "es gibt keinen Unique-Constraint oder Exclusion-Constraint, der auf die ON-CONFLICT-Angabe passt"}), true, false},
		{wrap(&pgconn.PgError{Code: "42710", Message: "Typ »mood« existiert bereits"}), false, true},
		{wrap(&pgconn.PgError{Code: "23505", Message: "doppelter Schlüsselwert verletzt Unique-Constraint »pg_type_typname_nsp_index«"}), false, true},
		{wrap(&pgconn.PgError{Code: "42501", Message: "permission denied for schema s (the object already exists elsewhere)"}), false, false},
		{errors.New("no unique or exclusion constraint matching the ON CONFLICT specification"), false, false},
	} {
		if got := strings.Contains(upsertErr(tg, c.err).Error(), "needs a primary key or unique index"); got != c.hint {
			t.Errorf("upsertErr(%v) names the fix: %v, want %v", c.err, got, c.hint)
		}
		if got := alreadyExists(c.err); got != c.exists {
			t.Errorf("alreadyExists(%v) = %v, want %v", c.err, got, c.exists)
		}
	}
}

// TestLoadWaitsForItsWriter: when COPY fails, Load returns only after the
// goroutine reading the rows has stopped, and the rows' own error (here a
// source failure) wins over COPY's text, with its type.
func TestLoadWaitsForItsWriter(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	s := newSink(t, c)
	if err := s.PrepareSnapshot(ctx, []*change.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	var returned atomic.Bool
	err := s.Load(ctx, tbl, func(yield func(change.Row) error) error {
		defer func() { time.Sleep(100 * time.Millisecond); returned.Store(true) }()
		// A value the target refuses: COPY fails while rows keep coming.
		if err := yield(change.Row{change.Text("not a number"), change.Text("x")}); err != nil {
			return err
		}
		for i := 0; ; i++ {
			if err := yield(change.Row{change.Text(fmt.Sprint(i)), change.Text(strings.Repeat("x", 100))}); err != nil {
				return err
			}
		}
	})
	if !returned.Load() {
		t.Fatal("Load returned while its writer goroutine was still reading rows")
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "22P02" {
		t.Fatalf("Load = %v, want the target's invalid_text_representation error", err)
	}

	srcErr := &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
	err = s.Load(ctx, tbl, func(yield func(change.Row) error) error {
		if err := yield(change.Row{change.Text("1"), change.Text("x")}); err != nil {
			return err
		}
		return fmt.Errorf("read source chunk: %w", srcErr)
	})
	if !errors.Is(err, srcErr) {
		t.Fatalf("Load = %v, want the rows' own error in the chain", err)
	}
}

// TestErrorsHideValues: a value the target refuses (a CHECK added by hand,
// a bad value in a snapshot) is not quoted in the error unless LogValues;
// the table and constraint are. With LogValues the server's DETAIL, which
// holds the row, is in the error too.
func TestErrorsHideValues(t *testing.T) {
	const secret = "sk_live_51HxQ"
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	for _, show := range []bool{false, true} {
		db := fmt.Sprintf("show_%v", show)
		if err := c.CreateDB(ctx, db); err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, Options{DSN: c.DSN(db), Pipeline: "t", LogValues: show})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		apply(t, s, inserts(1, 1, "a"))
		if err := c.Exec(ctx, db, "ALTER TABLE items ADD CONSTRAINT no_keys CHECK (v NOT LIKE 'sk_live%')"); err != nil {
			t.Fatal(err)
		}
		err = s.Apply(ctx, inserts(2, 3, secret))
		if err == nil {
			err = s.Flush(ctx)
		}
		if err == nil || !strings.Contains(err.Error(), "public.items") || !strings.Contains(err.Error(), "no_keys") {
			t.Fatalf("LogValues %v: %v, want an error naming the table and the constraint", show, err)
		}
		if got := strings.Contains(err.Error(), secret); got != show {
			t.Errorf("LogValues %v: the error quotes the value: %v\n%v", show, got, err)
		}
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "23514" {
			t.Errorf("LogValues %v: %v has lost its SQLSTATE", show, err)
		}

		s2, err := New(ctx, Options{DSN: c.DSN(db), Pipeline: "t2", LogValues: show})
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if err := s2.PrepareSnapshot(ctx, []*change.Table{tbl}); err != nil {
			t.Fatal(err)
		}
		err = s2.Load(ctx, tbl, func(yield func(change.Row) error) error {
			return yield(change.Row{change.Text(secret), change.Text("x")}) // not an integer
		})
		if err == nil || strings.Contains(err.Error(), secret) != show {
			t.Errorf("LogValues %v: Load = %v", show, err)
		}
	}
}

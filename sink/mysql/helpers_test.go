package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// shared is one MariaDB server for the tests that neither kill it nor need
// durable commits; each test uses databases of its own.
var shared *mytest.Server

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "sluice-mysql-sink-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := mytest.StartServer(context.Background(), mytest.Options{NoBinlog: true, Args: []string{"--tmpdir=" + tmp}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared = s
	code := m.Run()
	s.Remove()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// privateTmp is a --tmpdir of the test's own: the server's internal
// temporary files must not share /tmp with whatever cleans it up.
func privateTmp(t testing.TB) string {
	return "--tmpdir=" + t.TempDir()
}

type pos int

func (p pos) String() string { return fmt.Sprint(int(p)) }
func (p pos) Compare(o change.Position) int {
	switch q := o.(pos); {
	case p < q:
		return -1
	case p > q:
		return 1
	}
	return 0
}

// table makes a MySQL-dialect table shape: cols are name/type pairs, a
// trailing "!" on the type means NOT NULL.
func table(db, name string, key []int, cols ...string) *change.Table {
	t := &change.Table{ID: change.TableID{Schema: db, Name: name}, Key: key, Dialect: change.MySQL}
	if len(key) == 0 {
		t.Identity = change.IdentityFull
	}
	for i := 0; i+1 < len(cols); i += 2 {
		c := change.Column{Name: cols[i], Type: cols[i+1]}
		if n := len(c.Type); c.Type[n-1] == '!' {
			c.Type, c.NotNull = c.Type[:n-1], true
		}
		t.Columns = append(t.Columns, c)
	}
	return t
}

// row makes a row of texts; "\x00NULL" is SQL NULL, "\x00-" Unchanged, "\x00?" Missing.
func row(vals ...string) change.Row {
	r := make(change.Row, len(vals))
	for i, v := range vals {
		switch v {
		case null:
			r[i] = change.NullValue
		case unchanged:
			r[i] = change.Value{State: change.Unchanged}
		case missing:
			r[i] = change.Value{State: change.Missing}
		default:
			r[i] = change.Text(v)
		}
	}
	return r
}

const (
	null      = "\x00NULL"
	unchanged = "\x00-"
	missing   = "\x00?"
)

func txnOf(p int, changes ...change.Change) *change.Txn {
	t := change.NewTxn("", 0)
	for _, c := range changes {
		t.Add(c)
	}
	if p > 0 {
		t.Position = pos(p)
	}
	return t
}

func ins(t *change.Table, vals ...string) change.Change {
	return change.Change{Op: change.Insert, Table: t, After: row(vals...)}
}

func del(t *change.Table, vals ...string) change.Change {
	return change.Change{Op: change.Delete, Table: t, Before: row(vals...)}
}

func upd(t *change.Table, before, after change.Row) change.Change {
	return change.Change{Op: change.Update, Table: t, Before: before, After: after}
}

func newSink(t testing.TB, srv *mytest.Server, opts Options) *Sink {
	t.Helper()
	opts.DSN = srv.DSN("")
	if opts.Pipeline == "" {
		opts.Pipeline = t.Name()
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func apply(t testing.TB, s *Sink, txns ...*change.Txn) {
	t.Helper()
	for _, txn := range txns {
		if err := s.Apply(context.Background(), txn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// reader is a connection pool with the sink's own session settings.
func reader(t testing.TB, srv *mytest.Server) *sql.DB {
	t.Helper()
	db, _, err := open(srv.DSN(""), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rows returns every row of q as texts, NULL as "NULL".
func rows(t testing.TB, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	rs, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := make([]string, len(cols))
		for i, v := range vals {
			if v == nil {
				r[i] = "NULL"
			} else {
				r[i] = string(v)
			}
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func value(t testing.TB, db *sql.DB, q string, args ...any) string {
	t.Helper()
	r := rows(t, db, q, args...)
	if len(r) != 1 || len(r[0]) != 1 {
		t.Fatalf("%s: got %v, want one value", q, r)
	}
	return r[0][0]
}

package mysql

import (
	"context"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

// TestPostgresSource: PostgreSQL-dialect tables and values go through
// typemap into MySQL ones, in Apply and in Load.
func TestPostgresSource(t *testing.T) {
	ctx := context.Background()
	pg := &change.Table{ID: change.TableID{Schema: "pgsrc", Name: "items"}, Key: []int{0}, Dialect: change.Postgres,
		Columns: []change.Column{{Name: "id", Type: "integer", NotNull: true}, {Name: "name", Type: "text"},
			{Name: "amount", Type: "numeric(12,2)"}, {Name: "data", Type: "bytea"}, {Name: "ok", Type: "boolean"}}}
	s := newSink(t, shared, Options{})
	must(t, s.PrepareSnapshot(ctx, []*change.Table{pg}))
	must(t, s.Load(ctx, pg, func(yield func(change.Row) error) error {
		return yield(row("1", "snap", "1.50", `\x00ff`, "t"))
	}))
	apply(t, s, txnOf(1,
		change.Change{Op: change.Insert, Table: pg, After: row("2", "new 🐬", "12.00", `\x`, "f")},
		change.Change{Op: change.Update, Table: pg, After: row("1", "snap2", "1.50", `\x00ff`, "t")},
	))
	want(t, rows(t, reader(t, shared), "SELECT id, name, amount, HEX(data), ok FROM pgsrc.items ORDER BY id"),
		"[[1 snap2 1.50 00FF 1] [2 new 🐬 12.00  0]]")
}

package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

// TestConformance runs the suite every sink passes.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	sinktest.Run(t, sinktest.Target{
		Open: func(t *testing.T, name string) pipeline.Sink {
			s, err := New(ctx, Options{DSN: c.DSN("postgres"), Pipeline: name})
			if err != nil {
				t.Fatal(err)
			}
			return s.ForPipeline()
		},
		Rows: func(t *testing.T, id change.TableID) []string {
			conn, err := pgx.Connect(ctx, c.DSN("postgres"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var cols []string
			r, err := conn.Query(ctx, `SELECT format('coalesce(%I::text, ''∅'')', attname) FROM pg_attribute
				WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, pgx.Identifier{id.Schema, id.Name}.Sanitize())
			if err == nil {
				cols, err = pgx.CollectRows(r, pgx.RowTo[string])
			}
			if err != nil {
				t.Fatalf("columns of %s: %v", id, err)
			}
			r, err = conn.Query(ctx, fmt.Sprintf("SELECT concat_ws('|', %s) FROM %s ORDER BY 1", strings.Join(cols, ", "), pgx.Identifier{id.Schema, id.Name}.Sanitize()))
			if err != nil {
				t.Fatalf("rows of %s: %v", id, err)
			}
			rows, err := pgx.CollectRows(r, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			return sinktest.Sorted(split(rows))
		},
		Down: func(t *testing.T) {
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
		},
		Up: func(t *testing.T) {
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func split(rows []string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Split(r, "|")
	}
	return out
}

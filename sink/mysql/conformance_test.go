package mysql

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

// TestConformance runs the suite every sink passes.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	s := mytest.Start(t, mytest.Options{})
	sinktest.Run(t, sinktest.Target{
		Open: func(t *testing.T, name string) pipeline.Sink {
			k, err := New(ctx, Options{DSN: s.DSN(""), Pipeline: name})
			if err != nil {
				t.Fatal(err)
			}
			return k.ForPipeline()
		},
		Rows: func(t *testing.T, id change.TableID) []string {
			db := s.DB()
			r, err := db.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.COLUMNS
				WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, id.Schema, id.Name)
			if err != nil {
				t.Fatal(err)
			}
			var cols []string
			for r.Next() {
				var c string
				if err := r.Scan(&c); err != nil {
					t.Fatal(err)
				}
				cols = append(cols, "IFNULL(CAST(`"+c+"` AS CHAR), '∅')")
			}
			r.Close()
			if len(cols) == 0 {
				t.Fatalf("no table %s", id)
			}
			r, err = db.QueryContext(ctx, "SELECT CONCAT_WS('|', "+strings.Join(cols, ", ")+") FROM `"+id.Schema+"`.`"+id.Name+"`")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var rows [][]string
			for r.Next() {
				var v string
				if err := r.Scan(&v); err != nil {
					t.Fatal(err)
				}
				rows = append(rows, strings.Split(v, "|"))
			}
			return sinktest.Sorted(rows)
		},
		Down: func(t *testing.T) {
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
		},
		Up: func(t *testing.T) {
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
		},
	})
}

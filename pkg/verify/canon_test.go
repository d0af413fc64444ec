package verify

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// TestCanonicalTextsAgree stores the same values in MariaDB and in
// PostgreSQL columns of the mapped types and checks, on the real servers,
// that the canonical texts of canon.go are equal row for row, both ways:
// random doubles and floats of every magnitude (the two servers print
// them with different exponent notations), decimals with trailing zeros
// and -0, times in microseconds, datetimes.
func TestCanonicalTextsAgree(t *testing.T) {
	ctx := context.Background()
	pg := pgtest.Start(t, pgtest.Options{})
	my := mytest.Start(t, mytest.Options{})
	pe, err := openPostgres(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pe.close()
	if err := my.Exec(ctx, "CREATE DATABASE c"); err != nil {
		t.Fatal(err)
	}
	me, err := openMySQL(ctx, my.DSN("c"))
	if err != nil {
		t.Fatal(err)
	}
	defer me.close()

	rng := rand.New(rand.NewPCG(1, 2))
	type col struct {
		my, pg string             // column types
		val    func(i int) string // a literal both servers read as the same value
	}
	cols := []col{
		{"double", "double precision", func(i int) string {
			f := math.Float64frombits(rng.Uint64())
			for math.IsNaN(f) || math.IsInf(f, 0) {
				f = math.Float64frombits(rng.Uint64())
			}
			if i%3 == 0 { // a value with few digits, at any magnitude
				f = float64(rng.IntN(2000)-1000) * math.Pow(10, float64(rng.IntN(40)-20))
			}
			return strconv.FormatFloat(f, 'g', -1, 64)
		}},
		{"float", "real", func(i int) string {
			f := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30)))
			if i%5 == 0 {
				f = 0
			}
			return strconv.FormatFloat(float64(f), 'g', -1, 32)
		}},
		{"decimal(20,6)", "numeric(20,6)", func(i int) string {
			if i%7 == 0 {
				return "-0.000000"
			}
			return fmt.Sprintf("%d.%06d", rng.IntN(2000000)-1000000, rng.IntN(100)*10000)
		}},
		{"time(6)", "interval", func(i int) string {
			us := rng.Int64N(2*838*3600*1000000) - 838*3600*1000000
			sign := ""
			if us < 0 {
				sign, us = "-", -us
			}
			return fmt.Sprintf("%s%d:%02d:%02d.%06d", sign, us/3600000000, us/60000000%60, us/1000000%60, us%1000000)
		}},
		{"datetime(6)", "timestamp(6) without time zone", func(i int) string {
			return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d", 1000+rng.IntN(9000), 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000000))
		}},
	}
	const n = 300
	var myDefs, pgDefs []string
	var myRows, pgRows []string
	for i, c := range cols {
		myDefs = append(myDefs, fmt.Sprintf("c%d %s", i, c.my))
		pgDefs = append(pgDefs, fmt.Sprintf("c%d %s", i, c.pg))
	}
	for r := range n {
		vals := make([]string, len(cols))
		for i, c := range cols {
			vals[i] = "'" + c.val(r) + "'"
		}
		myRows = append(myRows, fmt.Sprintf("(%d, %s)", r, strings.Join(vals, ", ")))
		pgRows = append(pgRows, fmt.Sprintf("(%d, %s)", r, strings.Join(vals, ", ")))
	}
	myRows = append(myRows, fmt.Sprintf("(%d%s)", n, strings.Repeat(", NULL", len(cols))))
	pgRows = append(pgRows, fmt.Sprintf("(%d%s)", n, strings.Repeat(", NULL", len(cols))))
	if err := my.Exec(ctx, "CREATE TABLE c.t (id int PRIMARY KEY, "+strings.Join(myDefs, ", ")+"); INSERT INTO c.t VALUES "+strings.Join(myRows, ", ")); err != nil {
		t.Fatal(err)
	}
	if _, err := pe.conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, "+strings.Join(pgDefs, ", ")+"); INSERT INTO t VALUES "+strings.Join(pgRows, ", ")); err != nil {
		t.Fatal(err)
	}

	read := func(e engine, table string, exprs []string) map[string][]*string {
		tx, err := e.begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.rollback()
		rows, err := tx.query(ctx, "SELECT "+e.keyText("id")+", "+strings.Join(exprs, ", ")+", "+canonHash(e, canonRow(e, exprs))+" FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]*string{}
		for _, r := range rows {
			out[deref(r[0])] = r[1:]
		}
		return out
	}
	for _, dir := range []change.Dialect{change.MySQL, change.Postgres} {
		var myExprs, pgExprs []string
		for i, c := range cols {
			name := fmt.Sprintf("c%d", i)
			var cc canonCol
			var err error
			if dir == change.MySQL {
				cc, err = canonMyToPg(me.ident(name), pe.ident(name), change.Column{Name: name, Type: c.my}, change.Column{Name: name, Type: c.pg})
				myExprs, pgExprs = append(myExprs, cc.src), append(pgExprs, cc.dst)
			} else {
				if c.pg == "interval" { // PostgreSQL's time maps to MySQL time; interval does not
					continue
				}
				cc, err = canonPgToMy(pe.ident(name), me.ident(name), change.Column{Name: name, Type: c.pg}, change.Column{Name: name, Type: c.my}, true)
				pgExprs, myExprs = append(pgExprs, cc.src), append(myExprs, cc.dst)
			}
			if err != nil {
				t.Fatalf("%s: %v", c.my, err)
			}
		}
		a, b := read(me, "c.t", myExprs), read(pe, "t", pgExprs)
		if len(a) != n+1 || len(b) != n+1 {
			t.Fatalf("read %d and %d rows, want %d", len(a), len(b), n+1)
		}
		bad := 0
		for id, ra := range a {
			rb := b[id]
			for i := range ra {
				if deref(ra[i]) != deref(rb[i]) || (ra[i] == nil) != (rb[i] == nil) {
					bad++
					if bad < 20 {
						t.Errorf("%v source, row %s, canonical text %d: MariaDB %q, PostgreSQL %q", dir, id, i, deref(ra[i]), deref(rb[i]))
					}
				}
			}
		}
	}
}

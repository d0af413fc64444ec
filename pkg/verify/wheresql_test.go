package verify

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/transform/where"
)

// TestWhereSQLMeansTheFilter runs each filter both ways over the same rows
// (some NULL): in Go, as the pipeline does, and as the SQL whereSQL writes,
// in PostgreSQL. The rows each selects must be the same; a row on which
// the pipeline's filter fails (it would stop the pipeline) is left out.
func TestWhereSQLMeansTheFilter(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	must := func(q string) {
		t.Helper()
		if err := c.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	must(`CREATE TABLE r (id int PRIMARY KEY, country text, age int, score numeric(6,2), note text);
		INSERT INTO r VALUES (1, 'NL', 30, 1.5, 'a'), (2, 'nl', 40, NULL, NULL), (3, 'DE', NULL, 2.25, 'it''s'),
			(4, NULL, 20, -1, ''), (5, 'BE', 29, 0, 'NL')`)
	e, err := openPostgres(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	cols := []change.Column{{Name: "id", Type: "integer"}, {Name: "country", Type: "text"}, {Name: "age", Type: "integer"},
		{Name: "score", Type: "numeric(6,2)"}, {Name: "note", Type: "text"}}
	tx, err := e.begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.rollback()
	all, err := tx.query(ctx, "SELECT id::text, country, age::text, score::text, note FROM r ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"country": "country", "age": "age", "score": "score", "note": "note", "land": "country"}
	for _, src := range []string{
		"country == 'NL'",
		"country != 'NL'",
		"land == 'NL'",
		"country == nil",
		"nil != country",
		"country in ['NL', 'BE']",
		"country not in ['NL', 'BE']",
		"!(country == 'NL') && note != ''",
		"age != nil && age >= 30",
		"score > 1 || country == 'DE'",
		"note == \"it's\"",
		"not (age == 20 or age == 29)",
		"score <= -1.0",
	} {
		x, err := where.Compile(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		cond, err := whereSQL(e, src, names)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		var want, skip []int
		for _, row := range all {
			id, _ := strconv.Atoi(*row[0])
			env := map[string]any{}
			for i, col := range cols {
				v := change.NullValue
				if row[i] != nil {
					v = change.Text(*row[i])
				}
				val, err := where.Var(change.Postgres, &col, v)
				if err != nil {
					t.Fatal(err)
				}
				env[col.Name] = val
			}
			env["land"] = env["country"]
			ok, err := x.Match(env)
			switch {
			case err != nil:
				skip = append(skip, id)
			case ok:
				want = append(want, id)
			}
		}
		rows, err := tx.query(ctx, "SELECT id::text FROM r WHERE "+cond+" ORDER BY id")
		if err != nil {
			t.Errorf("%s: SQL %s: %v", src, cond, err)
			continue
		}
		var got []int
		for _, r := range rows {
			id, _ := strconv.Atoi(*r[0])
			if !slices.Contains(skip, id) {
				got = append(got, id)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: SQL %s selects %v, the pipeline's filter %v", src, cond, got, want)
		}
	}
}

// TestWhereSQLRefuses: what cannot be written as SQL exactly is refused, so
// the table is reported as not verifiable rather than compared wrongly.
func TestWhereSQLRefuses(t *testing.T) {
	e := &pgEngine{}
	for _, src := range []string{
		"lower(country) == 'nl'",
		"country startsWith 'N'",
		"age + 1 > 30",
		"country matches '^N'",
		"other == 1",
	} {
		if got, err := whereSQL(e, src, map[string]string{"country": "country", "age": "age"}); err == nil {
			t.Errorf("%s: written as %s, want an error", src, got)
		}
	}
}

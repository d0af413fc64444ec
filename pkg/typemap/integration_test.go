package typemap

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// The integration test proves, on real engines, that the mapped types accept
// the converted values and give them back exactly: each direction first
// checks its source rows against the source engine (so they really are what
// that engine prints), then creates the table with the converted types on
// the other engine, inserts the converted values and reads them back.

// tcol is a test column: its source type and one value per row (nil: NULL).
type tcol struct {
	name    string
	typ     string
	enum    []string
	notNull bool
	vals    []any
}

const rows = 5

func buildTable(d change.Dialect, cols []tcol, key ...int) (*change.Table, []change.Row) {
	t := &change.Table{ID: change.TableID{Schema: "typemap", Name: "t"}, Dialect: d, Key: key}
	rs := make([]change.Row, rows)
	for i := range rs {
		rs[i] = make(change.Row, len(cols))
	}
	for c, col := range cols {
		t.Columns = append(t.Columns, change.Column{Name: col.name, Type: col.typ, Enum: col.enum, NotNull: col.notNull})
		for r := range rows {
			v := change.NullValue
			if r < len(col.vals) && col.vals[r] != nil {
				v = change.Text(col.vals[r].(string))
			}
			rs[r][c] = v
		}
	}
	return t, rs
}

func goFloat(f float64, bits int) string { return strconv.FormatFloat(f, 'g', -1, bits) }

var ones64 = strings.Repeat("1", 64)

func mysqlColumns() []tcol {
	return []tcol{
		{name: "id", typ: "int", notNull: true, vals: []any{"1", "2", "3", "4", "5"}},
		{name: "ti", typ: "tinyint", vals: []any{"-128", "127", "0"}},
		{name: "tiu", typ: "tinyint unsigned", vals: []any{"255", "0"}},
		{name: "si", typ: "smallint", vals: []any{"-32768", "32767"}},
		{name: "siu", typ: "smallint unsigned", vals: []any{"65535"}},
		{name: "mi", typ: "mediumint", vals: []any{"-8388608", "8388607"}},
		{name: "miu", typ: "mediumint unsigned", vals: []any{"16777215"}},
		{name: "i", typ: "int", vals: []any{"-2147483648", "2147483647"}},
		{name: "iu", typ: "int unsigned", vals: []any{"4294967295"}},
		{name: "bi", typ: "bigint", vals: []any{"-9223372036854775808", "9223372036854775807"}},
		{name: "biu", typ: "bigint unsigned", vals: []any{"18446744073709551615", "0"}},
		{name: "dc", typ: "decimal(12,2)", vals: []any{"-1234567890.12", "0.00", "0.10"}},
		{name: "dmax", typ: "decimal(65,30)", vals: []any{"99999999999999999999999999999999999.999999999999999999999999999999", "-0.000000000000000000000000000001"}},
		{name: "f", typ: "float", vals: []any{goFloat(math.MaxFloat32, 32), goFloat(math.SmallestNonzeroFloat32, 32), "1.234567e+06", "0.1", "-1.5"}},
		{name: "d", typ: "double", vals: []any{goFloat(math.MaxFloat64, 64), goFloat(math.SmallestNonzeroFloat64, 64), goFloat(0.1+0.2, 64), goFloat(1e14, 64), goFloat(1e15, 64)}},
		{name: "b1", typ: "bit(1)", vals: []any{"0", "1"}},
		{name: "b64", typ: "bit(64)", vals: []any{ones64, strings.Repeat("0", 63) + "1"}},
		{name: "e", typ: "enum('a','b c','it''s')", enum: []string{"a", "b c", "it's"}, vals: []any{"it's", "b c"}},
		{name: "st", typ: "set('x','y','z')", enum: []string{"x", "y", "z"}, vals: []any{"x,z", ""}},
		{name: "c", typ: "char(10)", vals: []any{"abc", "", "  lead"}},
		{name: "vc", typ: "varchar(20)", vals: []any{"emoji 😀 ünï", "", "tab\tnl\n"}},
		{name: "tx", typ: "text", vals: []any{`quote ' " backslash \ `, strings.Repeat("long ", 1000)}},
		{name: "bn", typ: "binary(4)", vals: []any{"\x00\x01\xfe\xff"}},
		{name: "vb", typ: "varbinary(10)", vals: []any{"\x00", ""}},
		{name: "bl", typ: "blob", vals: []any{"a\x00b\\c\xff"}},
		{name: "dt", typ: "date", vals: []any{"2024-02-29", "0001-01-01", "9999-12-31", "0000-00-00", "2024-00-10"}},
		{name: "dtm", typ: "datetime", vals: []any{"2024-01-31 13:45:00", "0000-00-00 00:00:00", "1000-01-01 00:00:00"}},
		{name: "dt6", typ: "datetime(6)", vals: []any{"2024-01-31 13:45:00.123456", "9999-12-31 23:59:59.999999", "2024-01-31 13:45:00.100000", "0000-00-00 00:00:00.000000"}},
		{name: "ts", typ: "timestamp", vals: []any{"2024-01-31 13:45:00", "1970-01-01 00:00:01", "0000-00-00 00:00:00"}},
		{name: "ts3", typ: "timestamp(3)", vals: []any{"2038-01-19 03:14:07.999", "2024-01-31 13:45:00.500"}},
		{name: "tm", typ: "time", vals: []any{"-838:59:59", "838:59:59", "00:00:00", "-00:00:01", "100:00:00"}},
		{name: "tm6", typ: "time(6)", vals: []any{"-838:59:59.000000", "100:00:00.500000", "-00:00:00.000001", "12:34:56.789012"}},
		{name: "tm1", typ: "time(1)", vals: []any{"-838:59:59.5"}},
		{name: "yr", typ: "year", vals: []any{"2024", "1901", "2155", "0000"}},
		{name: "js", typ: "json", vals: []any{`{"b": 1,  "a": [1, 2.50, "x\u0000"]}`, `[]`}},
		{name: "geo", typ: "geometry", vals: []any{"\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40"}},
		{name: "uu", typ: "uuid", vals: []any{"123e4567-e89b-12d3-a456-426614174000"}},
		{name: "nn", typ: "varchar(5)", notNull: true, vals: []any{"x", "y", "z", "w", "v"}},
	}
}

func postgresColumns() []tcol {
	return []tcol{
		{name: "id", typ: "integer", notNull: true, vals: []any{"1", "2", "3", "4", "5"}},
		{name: "k", typ: "text", notNull: true, vals: []any{"a", "😀 key", strings.Repeat("é", 767), "d", "e"}},
		{name: "bo", typ: "boolean", vals: []any{"t", "f"}},
		{name: "sm", typ: "smallint", vals: []any{"-32768", "32767"}},
		{name: "it", typ: "integer", vals: []any{"-2147483648", "2147483647"}},
		{name: "bi", typ: "bigint", vals: []any{"-9223372036854775808", "9223372036854775807"}},
		{name: "re", typ: "real", vals: []any{"3.4028235e+38", "1e-45", "-0", "1.234567e+06", "NaN"}},
		{name: "dp", typ: "double precision", vals: []any{"1.7976931348623157e+308", "5e-324", "100000000000000", "-Infinity", "0.30000000000000004"}},
		{name: "dpn", typ: "double precision", notNull: true, vals: []any{"1.5", "-2.5e-300", "0", "1e+300", "123.456"}},
		{name: "n", typ: "numeric(12,2)", vals: []any{"-1234567890.12", "0.00", "NaN"}},
		{name: "nmax", typ: "numeric(65,30)", vals: []any{"99999999999999999999999999999999999.999999999999999999999999999999", "-0.000000000000000000000000000001"}},
		{name: "nu", typ: "numeric", vals: []any{"NaN", "123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890.5", "-Infinity", "0.000000000000000000000000000000000000000001"}},
		{name: "mo", typ: "money", vals: []any{"$1,234.56", "-$0.01"}},
		{name: "vc", typ: "character varying(20)", vals: []any{"emoji 😀", "", `quote ' " \`}},
		{name: "ch", typ: "character(5)", vals: []any{"ab   ", "     ", "😀😀😀😀😀"}},
		{name: "tx", typ: "text", vals: []any{"line\nbreak\ttab", strings.Repeat("long ", 1000)}},
		{name: "by", typ: "bytea", vals: []any{`\x00ff0a5c`, `\x`}},
		{name: "d", typ: "date", vals: []any{"2024-02-29", "0001-01-01", "9999-12-31", "infinity", "-infinity"}},
		{name: "ts", typ: "timestamp without time zone", vals: []any{"2024-01-31 13:45:00.5", "infinity", "-infinity", "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"}},
		{name: "ts0", typ: "timestamp(0) without time zone", vals: []any{"2024-01-31 13:45:00", "infinity"}},
		{name: "tz", typ: "timestamp with time zone", vals: []any{"2024-01-31 13:45:00.123456+00", "9999-12-31 23:59:59.999999+00", "-infinity", "1900-01-01 00:00:00+00"}},
		{name: "tz3", typ: "timestamp(3) with time zone", vals: []any{"2024-01-31 13:45:00.123+00", "infinity"}},
		{name: "tm", typ: "time without time zone", vals: []any{"24:00:00", "00:00:00", "13:45:00.000001"}},
		{name: "tm0", typ: "time(0) without time zone", vals: []any{"23:59:59"}},
		{name: "ttz", typ: "time with time zone", vals: []any{"13:45:00+05:30", "00:00:00.5-08"}},
		{name: "iv", typ: "interval", vals: []any{"1 year 2 mons -3 days +04:05:06.5", "-178000000 years", "00:00:00"}},
		{name: "u", typ: "uuid", vals: []any{"123e4567-e89b-12d3-a456-426614174000"}},
		{name: "j", typ: "json", vals: []any{`{"b": 1,  "a": [1, 2.50]}`, `"\u0000"`}},
		{name: "jb", typ: "jsonb", vals: []any{`{"a": [1, 2.50, null], "b": "x"}`, `[]`}},
		{name: "x", typ: "xml", vals: []any{`<a b="c">t</a>`}},
		{name: "tv", typ: "tsvector", vals: []any{`'a' 'b':2`}},
		{name: "ine", typ: "inet", vals: []any{"192.168.0.1/24", "::1"}},
		{name: "pt", typ: "point", vals: []any{"(1.5,2)"}},
		{name: "rng", typ: "int4range", vals: []any{"[1,5)", "empty"}},
		{name: "vbit", typ: "bit varying(8)", vals: []any{"101"}},
		{name: "b1", typ: "bit(1)", vals: []any{"0", "1"}},
		{name: "b64", typ: "bit(64)", vals: []any{ones64, strings.Repeat("0", 63) + "1"}},
		{name: "b70", typ: "bit(70)", vals: []any{strings.Repeat("10", 35)}},
		{name: "mood", typ: "typemap.mood", enum: []string{"sad", "ok", "it's", ""}, vals: []any{"it's", "sad", ""}},
		{name: "weird", typ: "typemap.weird", enum: []string{"a", "A", "é", "😀", "trail "}, vals: []any{"A", "é", "😀", "trail "}},
		{name: "ia", typ: "integer[]", vals: []any{"{1,2,NULL}", "{{1,2},{3,4}}", "{}"}},
		{name: "ta", typ: "text[]", vals: []any{`{"a b","c\"d",NULL,"NULL",""}`, `{"back\\slash","{}"}`}},
		{name: "ma", typ: "typemap.mood[]", enum: []string{"sad", "ok", "it's", ""}, vals: []any{`{sad,it's,NULL}`}},
		{name: "ja", typ: "jsonb[]", vals: []any{`{"{\"a\": 1}","[1, 2]"}`}},
		{name: "bxa", typ: "box[]", vals: []any{"{(3,4),(1,2);(1,1),(0,0)}"}},
		{name: "fa", typ: "real[]", vals: []any{"{1.5,NaN,-Infinity}"}},
		{name: "na", typ: "numeric(5,2)[]", vals: []any{"{1.50,-0.01}"}},
		{name: "ba", typ: "boolean[]", vals: []any{"{t,f,NULL}"}},
	}
}

func TestIntegration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		wg         sync.WaitGroup
		pg         *pgtest.Cluster
		my         *mytest.Server
		pgErr, myE error
	)
	wg.Add(2)
	go func() { defer wg.Done(); pg, pgErr = pgtest.StartCluster(ctx, pgtest.Options{}) }()
	go func() { defer wg.Done(); my, myE = mytest.StartServer(ctx, mytest.Options{NoBinlog: true}) }()
	wg.Wait()
	if pg != nil {
		t.Cleanup(func() { pg.Remove() })
	}
	if my != nil {
		t.Cleanup(func() { my.Remove() })
	}
	if pgErr != nil || myE != nil {
		t.Fatalf("start engines: postgres: %v; mariadb: %v", pgErr, myE)
	}
	pgc, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pgc.Close(ctx)
	if _, err := pgc.Exec(ctx, `SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3; SET bytea_output = 'hex';
		SET IntervalStyle = 'postgres'; CREATE SCHEMA typemap;
		CREATE TYPE typemap.mood AS ENUM ('sad', 'ok', 'it''s', '');
		CREATE TYPE typemap.weird AS ENUM ('a', 'A', 'é', '😀', 'trail ')`); err != nil {
		t.Fatal(err)
	}
	if err := my.Exec(ctx, "CREATE DATABASE typemap"); err != nil {
		t.Fatal(err)
	}
	// No interpolateParams: queries with arguments use the binary protocol,
	// which gives floats exactly (the text protocol rounds FLOAT to 6 digits).
	mydb, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/typemap?time_zone=%%27%%2B00%%3A00%%27", my.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer mydb.Close()
	mydb.SetMaxOpenConns(1)

	t.Run("MySQLToPostgres", func(t *testing.T) {
		src, srcRows := buildTable(change.MySQL, mysqlColumns(), 0)
		// The source rows are what MariaDB gives back for them.
		createMySQL(ctx, t, mydb, "src_my", src)
		insertMySQL(ctx, t, mydb, "src_my", src, srcRows, true)
		compareRows(t, "MariaDB source", src, srcRows, selectMySQL(ctx, t, mydb, "src_my", src))

		conv := New(change.Postgres)
		dst, err := conv.Table(src)
		if err != nil {
			t.Fatal(err)
		}
		want := convertRows(t, conv, src, srcRows)
		createPostgres(ctx, t, pgc, "typemap.from_my", dst)
		insertPostgres(ctx, t, pgc, "typemap.from_my", dst, want)
		compareRows(t, "PostgreSQL target", dst, want, selectPostgres(ctx, t, pgc, "typemap.from_my", dst))
	})

	t.Run("PostgresToMySQL", func(t *testing.T) {
		src, srcRows := buildTable(change.Postgres, postgresColumns(), 0, 1)
		// The source rows and types are what PostgreSQL gives back for them.
		createPostgres(ctx, t, pgc, "typemap.src_pg", src)
		insertPostgres(ctx, t, pgc, "typemap.src_pg", src, srcRows)
		compareRows(t, "PostgreSQL source", src, srcRows, selectPostgres(ctx, t, pgc, "typemap.src_pg", src))
		checkFormatType(ctx, t, pgc, "typemap.src_pg", src)

		conv := New(change.MySQL)
		var warned []string
		conv.Warn = func(_ change.TableID, column, _ string) { warned = append(warned, column) }
		dst, err := conv.Table(src)
		if err != nil {
			t.Fatal(err)
		}
		want := convertRows(t, conv, src, srcRows)
		if got := strings.Join(warned, ","); got != "n,dp,re" {
			t.Errorf("warnings for columns %s, want n,dp,re (rows 3-5: NaN, -Infinity, NaN)", got)
		}
		createMySQL(ctx, t, mydb, "from_pg", dst)
		insertMySQL(ctx, t, mydb, "from_pg", dst, want, false)
		compareRows(t, "MariaDB target", dst, want, selectMySQL(ctx, t, mydb, "from_pg", dst))
	})

	t.Run("MySQLRowLimits", func(t *testing.T) {
		// Tables whose direct mapping breaks MySQL's row limits are created.
		for i, shape := range []struct {
			n   int
			typ string
		}{{30, "character varying(63)"}, {32, "character varying(63)"}, {33, "character varying(63)"}, {40, "character varying(63)"},
			{250, "character varying(63)"}, {200, "character varying(300)"}, {120, "character(10)"}, {70, "character varying(255)"},
			{20, "character varying(2000)"}, {40, "uuid"}, {100, "money"}} {
			src := &change.Table{ID: change.TableID{Schema: "typemap", Name: "wide"}, Dialect: change.Postgres, Key: []int{0, 1}}
			src.Columns = append(src.Columns, change.Column{Name: "k1", Type: "text", NotNull: true}, change.Column{Name: "k2", Type: "bytea", NotNull: true})
			for i := range shape.n {
				src.Columns = append(src.Columns, change.Column{Name: fmt.Sprint("c", i), Type: shape.typ})
			}
			dst, err := New(change.MySQL).Table(src)
			if err != nil {
				t.Fatal(err)
			}
			createMySQL(ctx, t, mydb, fmt.Sprint("wide_", i), dst)
		}
	})
}

func convertRows(t *testing.T, conv *Converter, src *change.Table, rs []change.Row) []change.Row {
	t.Helper()
	out := make([]change.Row, len(rs))
	for i, r := range rs {
		var err error
		if out[i], err = conv.Row(src, r); err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
	}
	return out
}

func compareRows(t *testing.T, what string, tbl *change.Table, want, got []change.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for r := range want {
		for c, col := range tbl.Columns {
			w, g := want[r][c], got[r][c]
			if col.Type == "float" && w.State == change.Present && g.State == change.Present {
				// ±FLT_MAX is converted with its exact digits (see
				// appendPgFloat); compare FLOAT values as float32.
				wf, _ := strconv.ParseFloat(string(w.Data), 32)
				gf, _ := strconv.ParseFloat(string(g.Data), 32)
				if wf == gf {
					continue
				}
			}
			if w.State != g.State || string(w.Data) != string(g.Data) {
				t.Errorf("%s row %d column %s (%s): got %s, want %s", what, r+1, col.Name, col.Type, short(g), short(w))
			}
		}
	}
}

func short(v change.Value) string {
	if v.State != change.Present {
		return v.String()
	}
	return shortValue(v.Data)
}

// ---- PostgreSQL ----

func createPostgres(ctx context.Context, t *testing.T, c *pgx.Conn, name string, tbl *change.Table) {
	t.Helper()
	var defs []string
	for _, col := range tbl.Columns {
		d := pgx.Identifier{col.Name}.Sanitize() + " " + col.Type
		if col.NotNull {
			d += " NOT NULL"
		}
		defs = append(defs, d)
	}
	var key []string
	for _, k := range tbl.Key {
		key = append(key, pgx.Identifier{tbl.Columns[k].Name}.Sanitize())
	}
	defs = append(defs, "PRIMARY KEY ("+strings.Join(key, ", ")+")")
	if _, err := c.Exec(ctx, "CREATE TABLE "+name+" ("+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatalf("create %s on PostgreSQL: %v", name, err)
	}
}

func insertPostgres(ctx context.Context, t *testing.T, c *pgx.Conn, name string, tbl *change.Table, rs []change.Row) {
	t.Helper()
	for i, r := range rs {
		var ph []string
		var args []any
		for j, v := range r {
			args = append(args, nil)
			if v.State == change.Present {
				args[j] = string(v.Data)
			}
			ph = append(ph, fmt.Sprintf("CAST($%d::text AS %s)", j+1, tbl.Columns[j].Type))
		}
		if _, err := c.Exec(ctx, "INSERT INTO "+name+" VALUES ("+strings.Join(ph, ", ")+")", args...); err != nil {
			t.Fatalf("insert row %d into %s on PostgreSQL: %v", i+1, name, err)
		}
	}
}

func selectPostgres(ctx context.Context, t *testing.T, c *pgx.Conn, name string, tbl *change.Table) []change.Row {
	t.Helper()
	var cols []string
	for _, col := range tbl.Columns {
		cols = append(cols, pgx.Identifier{col.Name}.Sanitize())
	}
	// Text result format: each type's output function, as pgoutput sends
	// values (a ::text cast differs: booleans, character(n), inet).
	res := c.PgConn().ExecParams(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+name+" ORDER BY 1", nil, nil, nil, []int16{0}).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var out []change.Row
	for _, r := range res.Rows {
		row := make(change.Row, len(cols))
		for i, v := range r {
			row[i] = change.NullValue
			if v != nil {
				row[i] = change.Text(string(v))
			}
		}
		out = append(out, row)
	}
	return out
}

// checkFormatType makes sure the test's PostgreSQL types are spelled as the
// source's catalog query (format_type, search_path pg_catalog) spells them.
func checkFormatType(ctx context.Context, t *testing.T, c *pgx.Conn, name string, tbl *change.Table) {
	t.Helper()
	if _, err := c.Exec(ctx, "SET search_path = pg_catalog"); err != nil {
		t.Fatal(err)
	}
	defer c.Exec(ctx, "RESET search_path")
	rs, err := c.Query(ctx, `SELECT attname, format_type(atttypid, NULLIF(atttypmod, -1)) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 ORDER BY attnum`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	i := 0
	for rs.Next() {
		var n, typ string
		if err := rs.Scan(&n, &typ); err != nil {
			t.Fatal(err)
		}
		if col := tbl.Columns[i]; col.Name != n || col.Type != typ {
			t.Errorf("column %s: test type %q, catalog says %s %q", col.Name, col.Type, n, typ)
		}
		i++
	}
}

// ---- MariaDB ----

func isBinary(typ string) bool {
	for _, p := range []string{"binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob", "geometry"} {
		if typ == p || strings.HasPrefix(typ, p+"(") {
			return true
		}
	}
	return false
}

func createMySQL(ctx context.Context, t *testing.T, db *sql.DB, name string, tbl *change.Table) {
	t.Helper()
	var defs []string
	for _, col := range tbl.Columns {
		d := "`" + col.Name + "` " + col.Type
		if col.Charset == "utf8mb4" && col.Type != "json" {
			d += " CHARACTER SET utf8mb4"
		}
		if col.NotNull {
			d += " NOT NULL"
		} else {
			d += " NULL"
		}
		defs = append(defs, d)
	}
	var key []string
	for _, k := range tbl.Key {
		key = append(key, "`"+tbl.Columns[k].Name+"`")
	}
	defs = append(defs, "PRIMARY KEY ("+strings.Join(key, ", ")+")")
	q := "CREATE TABLE `" + name + "` (" + strings.Join(defs, ", ") + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatalf("create %s on MariaDB: %v\n%s", name, err, q)
	}
}

// insertMySQL inserts rows; floatsAsNumbers sends FLOAT values as numbers
// (a source's shortest float texts are not always accepted as text: MySQL
// rejects "3.4028235e+38"), else every value goes as the sink would send it.
func insertMySQL(ctx context.Context, t *testing.T, db *sql.DB, name string, tbl *change.Table, rs []change.Row, floatsAsNumbers bool) {
	t.Helper()
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(tbl.Columns)), ", ")
	for i, r := range rs {
		args := make([]any, len(r))
		for j, v := range r {
			if v.State != change.Present {
				continue
			}
			typ := tbl.Columns[j].Type
			switch {
			case strings.HasPrefix(typ, "bit("):
				n, err := strconv.ParseUint(string(v.Data), 2, 64)
				if err != nil {
					t.Fatal(err)
				}
				args[j] = n
			case isBinary(typ):
				args[j] = append([]byte{}, v.Data...)
			case typ == "float" && floatsAsNumbers:
				f, err := strconv.ParseFloat(string(v.Data), 32)
				if err != nil {
					t.Fatal(err)
				}
				args[j] = f
			default:
				args[j] = string(v.Data)
			}
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO `"+name+"` VALUES ("+ph+")", args...); err != nil {
			t.Fatalf("insert row %d into %s on MariaDB: %v", i+1, name, err)
		}
	}
}

// selectMySQL reads rows back as the MySQL dialect texts of change.MySQL.
func selectMySQL(ctx context.Context, t *testing.T, db *sql.DB, name string, tbl *change.Table) []change.Row {
	t.Helper()
	rs, err := db.QueryContext(ctx, "SELECT * FROM `"+name+"` WHERE 1 = ? ORDER BY 1", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []change.Row
	n := len(tbl.Columns)
	for rs.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make(change.Row, n)
		for i, v := range vals {
			typ := tbl.Columns[i].Type
			var s string
			switch v := v.(type) {
			case nil:
				row[i] = change.NullValue
				continue
			case int64:
				s = strconv.FormatInt(v, 10)
				if strings.HasPrefix(typ, "year") {
					s = fmt.Sprintf("%04d", v)
				}
			case uint64:
				s = strconv.FormatUint(v, 10)
			case float32:
				s = goFloat(float64(v), 32)
			case float64:
				s = goFloat(v, 64)
			case []byte:
				s = string(v)
				if strings.HasPrefix(typ, "bit(") {
					bits, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(typ, "bit("), ")"))
					var u uint64
					for _, b := range v {
						u = u<<8 | uint64(b)
					}
					s = fmt.Sprintf("%0*b", bits, u)
				}
			default:
				t.Fatalf("column %s: unexpected %T", tbl.Columns[i].Name, v)
			}
			row[i] = change.Text(s)
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/mysqlconn"
)

// engine is one server, seen through the SQL verify needs: its dialect
// (how a row becomes canonical text and a 64-bit hash, in the server) and
// read-only transactions on one connection.
type engine interface {
	kind() string // "postgres" | "mysql"
	ident(name string) string
	lit(s string) string
	// rowText is the canonical text of a row of these columns (with their
	// source types): the same values give the same text on every server of
	// the engine; NULL has a text of its own.
	rowText(names, types []string) string
	// hash is a 64-bit integer of a text expression; sum adds them up
	// exactly and gives the sum as text.
	hash(text string) string
	// rowHash is the 64-bit hash of a row of these columns (with their
	// source types); the same row gives the same hash on every server of
	// the engine.
	rowHash(names, types []string) string
	sum(hash string) string
	keyText(name string) string
	// begin opens a read-only transaction; snapshot: a consistent snapshot
	// (REPEATABLE READ) taken at once.
	begin(ctx context.Context, snapshot bool) (tx, error)
	close()
}

// tx is an open transaction. Values come back as text; nil is NULL.
type tx interface {
	query(ctx context.Context, q string) ([][]*string, error)
	exec(ctx context.Context, q string) (int64, error)
	commit(ctx context.Context) error
	rollback()
}

// ---- PostgreSQL

// pgSession makes value text unambiguous and the same on both servers.
var pgSession = map[string]string{
	"standard_conforming_strings": "on",
	"DateStyle":                   "ISO, YMD",
	"IntervalStyle":               "postgres",
	"TimeZone":                    "UTC",
	"extra_float_digits":          "3",
	"bytea_output":                "hex",
	"client_encoding":             "UTF8",
	"application_name":            "sluice verify",
}

type pgEngine struct{ conn *pgx.Conn }

func openPostgres(ctx context.Context, dsn string) (*pgEngine, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("parse dsn: invalid connection string")
	}
	for k, v := range pgSession {
		cfg.RuntimeParams[k] = v
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &pgEngine{conn: conn}, nil
}

func (e *pgEngine) kind() string             { return "postgres" }
func (e *pgEngine) ident(name string) string { return pgx.Identifier{name}.Sanitize() }
func (e *pgEngine) lit(s string) string      { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func (e *pgEngine) rowText(names, types []string) string {
	// A record's text form quotes what needs quoting and leaves NULL empty
	// (an empty string is ""): unambiguous, and one call per row.
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = e.ident(n)
	}
	return "ROW(" + strings.Join(q, ", ") + ")::text"
}
func (e *pgEngine) hash(text string) string {
	// The 64-bit hash of hash partitioning: stable across servers and
	// versions (partitions depend on it), and several times cheaper than
	// md5 and a hex conversion. COLLATE "C": hashed byte for byte.
	return "hashtextextended((" + text + ") COLLATE \"C\", 0)"
}

// rowHash hashes the row as a record of its values, each by its type's
// own extended hash (no text conversion, several times cheaper than the
// record's text), where that hash tells apart exactly the values whose
// text differs: integers (as bigint, whose hash equals int2's and int4's
// for equal values), boolean, bytea, date, timestamps and uuid, text and
// varchar byte for byte (COLLATE "C"). Every other type (numeric keeps its
// scale in text but not in its hash, char(n) its padding, float -0, json
// has no hash) is hashed as its output text.
func (e *pgEngine) rowHash(names, types []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		c := e.ident(n)
		t := types[i]
		switch {
		case t == "smallint" || t == "integer" || t == "bigint":
			q[i] = c + "::bigint"
		case t == "boolean" || t == "bytea" || t == "date" || t == "uuid" ||
			strings.HasPrefix(t, "timestamp"):
			q[i] = c
		case t == "text" || strings.HasPrefix(t, "character varying"):
			q[i] = c + "::text COLLATE \"C\""
		default:
			// concat() prints a value with its type's output function
			// (char(n) keeps its padding); NULL stays NULL.
			q[i] = "(CASE WHEN " + c + " IS NULL THEN NULL ELSE concat(" + c + ") END) COLLATE \"C\""
		}
	}
	return "hash_record_extended(ROW(" + strings.Join(q, ", ") + "), 0)"
}
func (e *pgEngine) sum(hash string) string     { return "coalesce(sum(" + hash + "), 0)::text" }
func (e *pgEngine) keyText(name string) string { return e.ident(name) + "::text" }
func (e *pgEngine) close()                     { e.conn.Close(context.Background()) }

func (e *pgEngine) begin(ctx context.Context, snapshot bool) (tx, error) {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	if snapshot {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	t, err := e.conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &pgTx{t: t}, nil
}

type pgTx struct{ t pgx.Tx }

func (t *pgTx) query(ctx context.Context, q string) ([][]*string, error) {
	rows, err := t.t.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]*string, len(raw))
		for i, b := range raw {
			if b != nil {
				s := string(b)
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (t *pgTx) exec(ctx context.Context, q string) (int64, error) {
	tag, err := t.t.Exec(ctx, q)
	return tag.RowsAffected(), err
}
func (t *pgTx) commit(ctx context.Context) error { return t.t.Commit(ctx) }
func (t *pgTx) rollback()                        { _ = t.t.Rollback(context.Background()) }

// ---- MySQL / MariaDB

type myEngine struct {
	db      *sql.DB
	mariaDB bool // MariaDB, not MySQL (it keeps json text as written)
}

func openMySQL(ctx context.Context, dsn string) (*myEngine, error) {
	db, _, err := mysqlconn.Open(dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		db.Close()
		return nil, err
	}
	return &myEngine{db: db, mariaDB: strings.Contains(strings.ToLower(version), "mariadb")}, nil
}

func (e *myEngine) kind() string             { return "mysql" }
func (e *myEngine) ident(name string) string { return mysqlconn.QuoteIdent(name) }
func (e *myEngine) lit(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)
	return "'" + r.Replace(s) + "'"
}
func (e *myEngine) rowText(names, types []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = e.colText(n, types[i])
	}
	return "CONCAT_WS(','," + strings.Join(q, ", ") + ")"
}

func (e *myEngine) colText(name, typ string) string {
	c := e.ident(name)
	t := strings.ToLower(typ)
	if strings.Contains(t, "binary") || strings.Contains(t, "blob") || strings.HasPrefix(t, "bit") {
		return "IF(" + c + " IS NULL, 'N', CONCAT('x', HEX(" + c + ")))"
	}
	// QUOTE gives NULL as the bare word NULL and every string quoted; the
	// conversion makes the bytes the same whatever the column's charset.
	return "QUOTE(CONVERT(" + c + " USING utf8mb4))"
}
func (e *myEngine) hash(text string) string {
	return "CAST(CONV(LEFT(MD5(" + text + "), 16), 16, 10) AS UNSIGNED)"
}
func (e *myEngine) rowHash(names, types []string) string {
	return e.hash(e.rowText(names, types))
}
func (e *myEngine) sum(hash string) string     { return "CAST(COALESCE(SUM(" + hash + "), 0) AS CHAR)" }
func (e *myEngine) keyText(name string) string { return "CAST(" + e.ident(name) + " AS CHAR)" }
func (e *myEngine) close()                     { e.db.Close() }

func (e *myEngine) begin(ctx context.Context, snapshot bool) (tx, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	stmts := []string{"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "START TRANSACTION"}
	if snapshot {
		stmts = []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT"}
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return &myTx{c: conn}, nil
}

type myTx struct{ c *sql.Conn }

func (t *myTx) query(ctx context.Context, q string) ([][]*string, error) {
	rows, err := t.c.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]*string
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]*string, len(raw))
		for i, b := range raw {
			if b != nil {
				s := string(b)
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (t *myTx) exec(ctx context.Context, q string) (int64, error) {
	r, err := t.c.ExecContext(ctx, q)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t *myTx) commit(ctx context.Context) error {
	_, err := t.c.ExecContext(ctx, "COMMIT")
	t.c.Close()
	return err
}

func (t *myTx) rollback() {
	_, _ = t.c.ExecContext(context.Background(), "ROLLBACK")
	t.c.Close()
}

// open connects to a server of the given kind.
func open(ctx context.Context, kind, dsn string) (engine, error) {
	switch kind {
	case "postgres":
		return openPostgres(ctx, dsn)
	case "mysql":
		return openMySQL(ctx, dsn)
	}
	return nil, fmt.Errorf("verify: %s servers are not supported (postgres and mysql are)", kind)
}

// one returns the single value of a one-row, one-column result ("" for
// none or NULL).
func one(rows [][]*string) string {
	if len(rows) == 0 || len(rows[0]) == 0 || rows[0][0] == nil {
		return ""
	}
	return *rows[0][0]
}

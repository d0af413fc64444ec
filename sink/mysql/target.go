package mysql

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// target is a target table prepared for one source table shape.
type target struct {
	id    change.TableID
	ident string   // quoted db.name
	cols  []string // quoted names of the value columns: the source's, then the mode's
	kinds []kind   // how each column's values travel
	match []string // per column, the placeholder that compares exactly with it
	key   []int    // source column indexes of the key
	all   []int    // 0..n-1

	sh      *mode.Shape
	nsrc    int  // cols[:nsrc] are the source's columns
	softDel int  // index of the deleted-at column, -1 without soft deletes
	values  bool // errors may quote values (log.values)
	// oldPositions: the history or append table was made by a Sluice that
	// kept positions in varchar(3000) with the unique key on the position
	// itself, not on positionHash.
	oldPositions bool
}

// positionHash is mode.PositionHash: here the SHA-256 of the position.
const positionHash = mode.PositionHash

// positionType holds a source position of any length (a GTID set may have
// one entry per server the cluster ever had).
const positionType = "mediumtext CHARACTER SET ascii COLLATE ascii_bin"

func (s *Sink) targetID(t *change.Table) change.TableID {
	id := t.ID
	if s.opts.Schema != "" {
		id.Schema = s.opts.Schema
	}
	return id
}

func (s *Sink) newTarget(sh *mode.Shape) *target {
	t := sh.Table
	id := s.targetID(t)
	tg := &target{id: id, ident: mysqlconn.QuoteIdent(id.Schema) + "." + mysqlconn.QuoteIdent(id.Name), key: t.Key,
		sh: sh, nsrc: sh.N, softDel: sh.Extra(mode.KindDeletedAt), values: s.opts.LogValues}
	for i, c := range t.Columns {
		k := kindOf(c)
		tg.cols = append(tg.cols, mysqlconn.QuoteIdent(c.Name))
		tg.kinds = append(tg.kinds, k)
		tg.match = append(tg.match, matchPlaceholder(k, c.Type, s.srv.flavor))
		tg.all = append(tg.all, i)
	}
	return tg
}

// target returns the prepared target of shape t, nil if none yet.
func (s *Sink) target(t *change.Table) *target {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.targets[t]
}

// prepare makes sure every table shape txn uses has its target table, before
// any of txn's changes is applied: DDL commits implicitly in MySQL, so it
// may only run between whole source transactions (see runDDL).
func (s *Sink) prepare(ctx context.Context, txn *change.Txn) error {
	var last *change.Table
	var fresh []*mode.Shape
	err := txn.Each(func(c *change.Change) error {
		if c.Table == last || c.Op == change.Rename { // a rename needs no target shape (see renameColumns)
			return nil
		}
		last = c.Table
		sh, err := s.sourceShape(c.Table)
		if err != nil {
			return err
		}
		if s.target(sh.Table) == nil && !slices.Contains(fresh, sh) {
			fresh = append(fresh, sh)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sh := range fresh {
		if err := s.ensure(ctx, sh); err != nil {
			return err
		}
	}
	return nil
}

// sourceShape is the target shape of source table src: converted to
// MySQL's types, except in append mode, whose rows hold the source's own
// texts.
func (s *Sink) sourceShape(src *change.Table) (*mode.Shape, error) {
	t := src
	if s.opts.Mode.Mode != mode.Append {
		var err error
		if t, err = s.table(src); err != nil {
			return nil, err
		}
	}
	if t != src {
		s.mu.Lock()
		s.origins[t] = src
		s.mu.Unlock()
	}
	return s.core.ShapeFor(t)
}

// origin is the source table (in its own dialect) that converted shape t
// was made from; t itself when it was not converted.
func (s *Sink) origin(t *change.Table) *change.Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.origins[t]; o != nil {
		return o
	}
	return t
}

// ensure makes sure the target table for shape t exists with every column of
// t (creating database and table, or adding missing columns), and that an
// existing table has the key merging relies on.
func (s *Sink) ensure(ctx context.Context, sh *mode.Shape) error {
	t := sh.Table
	if t.Dialect != change.MySQL && sh.Mode != mode.Append {
		return fmt.Errorf("prepare target table for %s: its types are %s's, not MySQL's", t.ID, t.Dialect)
	}
	for _, k := range t.Key {
		if k < 0 || k >= len(t.Columns) {
			return fmt.Errorf("prepare target table for %s: key column %d of %d columns", t.ID, k, len(t.Columns))
		}
	}
	s.mu.Lock()
	prev := s.shapes[t.ID]
	if prev != nil && prev.SameShape(t) {
		s.targets[t] = s.targets[prev]
		s.shapes[t.ID] = t
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	tg := s.newTarget(sh)
	have, err := s.columns(ctx, tg.id)
	if err != nil {
		return err
	}
	if have != nil {
		err = s.opts.Mode.CheckExisting(tg.id.String(), func(n string) bool { return have[strings.ToLower(n)] })
	}
	switch missing := missingColumns(t, have); {
	case err != nil:
	case have == nil:
		err = s.createTable(ctx, tg, sh)
	case len(missing) > 0 || missingSynced(sh, have) != nil:
		err = s.addColumns(ctx, tg, sh, missing, have)
	}
	if err == nil && have != nil {
		err = s.followTypes(ctx, tg, sh)
	}
	if err == nil && have != nil {
		err = s.checkPositions(ctx, tg, sh, have)
	}
	if err == nil && have != nil {
		err = s.checkUnique(ctx, tg, sh.UniqueColumns(tg.oldPositions))
	}
	if err != nil {
		return err
	}
	src := s.origin(sh.Source)
	s.mu.Lock()
	s.targets[t] = tg
	s.shapes[t.ID] = t
	s.lastSrc[t.ID] = src
	s.mu.Unlock()
	return nil
}

func (s *Sink) createTable(ctx context.Context, tg *target, sh *mode.Shape) error {
	err := s.runDDL(ctx, "create target table "+tg.id.String(),
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s DEFAULT CHARACTER SET utf8mb4 COLLATE %s", mysqlconn.QuoteIdent(tg.id.Schema), s.srv.collation),
		s.createTableSQL(tg, sh))
	if err == nil {
		s.opts.Log.Info().Stringer("table", tg.id).Msg("created target table")
	}
	return err
}

// addColumns adds the source's new columns (and the mode's), nullable:
// existing rows have no value for them.
func (s *Sink) addColumns(ctx context.Context, tg *target, sh *mode.Shape, missing []int, have map[string]bool) error {
	t := sh.Table
	var add, names []string
	for _, i := range missing {
		add = append(add, "ADD COLUMN "+tg.cols[i]+" "+s.columnType(t.Columns[i], false))
		names = append(names, t.Columns[i].Name)
	}
	if c := missingSynced(sh, have); c != nil {
		add = append(add, "ADD COLUMN "+managedDef(*c))
		names = append(names, c.Name)
	}
	err := s.runDDL(ctx, fmt.Sprintf("add columns %s to target table %s", strings.Join(names, ", "), tg.id),
		"ALTER TABLE "+tg.ident+" "+strings.Join(add, ", "))
	if err == nil {
		s.opts.Log.Info().Stringer("table", tg.id).Strs("columns", names).Msg("added columns to target table")
	}
	return err
}

// runDDL runs DDL statements. MySQL commits the open transaction before each,
// so what is applied so far is committed first, with its position: atomic
// with the data as ever. While parts of a running source transaction are
// applied, nothing may commit: then the DDL runs on another connection.
func (s *Sink) runDDL(ctx context.Context, what string, stmts ...string) error {
	if s.core.PartOpen() {
		return s.ddlAside(ctx, what, stmts)
	}
	if s.begun || s.core.Pending() {
		if err := s.commit(ctx); err != nil {
			return err
		}
	}
	for _, q := range stmts {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// ddlAside runs DDL on a connection of its own. It waits briefly for the
// table's metadata lock: if the open transaction changed the table already,
// the lock is held until that transaction ends, so waiting longer is useless.
func (s *Sink) ddlAside(ctx context.Context, what string, stmts []string) error {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: connect to target: %w", what, err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "SET SESSION lock_wait_timeout = 10"); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer c.ExecContext(ctx, "SET SESSION lock_wait_timeout = DEFAULT") //nolint:errcheck // a broken connection is dropped anyway
	for _, q := range stmts {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s while a large source transaction that changed it is being applied: %w", what, err)
		}
	}
	return nil
}

// columns returns the lower-cased column names of the target table (MySQL
// column names are case-insensitive), nil when the table does not exist.
func (s *Sink) columns(ctx context.Context, id change.TableID) (map[string]bool, error) {
	rows, err := s.conn.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		id.Schema, id.Name)
	if err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
	}
	defer rows.Close()
	var have map[string]bool
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
		}
		if have == nil {
			have = map[string]bool{}
		}
		have[strings.ToLower(n)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
	}
	return have, nil
}

func missingColumns(t *change.Table, have map[string]bool) []int {
	var out []int
	for i, c := range t.Columns {
		if have != nil && !have[strings.ToLower(c.Name)] {
			out = append(out, i)
		}
	}
	return out
}

// checkUnique makes sure the target table has a primary key or unique
// index on exactly the given columns: merging relies on one on the key
// (without it a replayed insert would silently double a row), history and
// append on one on each change's position and index.
func (s *Sink) checkUnique(ctx context.Context, tg *target, cols []string) error {
	if len(cols) == 0 {
		return nil
	}
	keys := make([]string, len(cols))
	for i, c := range cols {
		keys[i] = strings.ToLower(c)
	}
	sort.Strings(keys)
	rows, err := s.conn.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME, SUB_PART IS NOT NULL FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0`, tg.id.Schema, tg.id.Name)
	if err != nil {
		return fmt.Errorf("check key of target table %s: %w", tg.id, err)
	}
	defer rows.Close()
	indexes := map[string][]string{}
	for rows.Next() {
		var index string
		var col *string // NULL for a functional index part
		var prefix bool
		if err := rows.Scan(&index, &col, &prefix); err != nil {
			return fmt.Errorf("check key of target table %s: %w", tg.id, err)
		}
		if col == nil || prefix { // cannot tell distinct keys apart
			indexes[index] = append(indexes[index], "\x00")
			continue
		}
		indexes[index] = append(indexes[index], strings.ToLower(*col))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check key of target table %s: %w", tg.id, err)
	}
	for _, cols := range indexes {
		sort.Strings(cols)
		if slices.Equal(cols, keys) {
			return nil
		}
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = mysqlconn.QuoteIdent(c)
	}
	fix := "ADD PRIMARY KEY"
	if tg.sh.Mode != mode.Merge {
		fix = "ADD UNIQUE KEY"
	}
	return fmt.Errorf("target table %s has no primary key or unique index on (%s), which Sluice relies on; add one (e.g. ALTER TABLE %s %s (%s)) or drop the table so Sluice creates it",
		tg.id, strings.Join(keys, ", "), tg.ident, fix, strings.Join(quoted, ", "))
}

func (s *Sink) createTableSQL(tg *target, sh *mode.Shape) string {
	t := sh.Table
	defs := sh.ColumnDefs(func(i int) string {
		return tg.cols[i] + " " + s.columnType(t.Columns[i], t.Columns[i].NotNull)
	}, managedDef)
	keys := strings.Join(sqlsink.Pick(tg.cols, t.Key), ", ")
	switch {
	case sh.Mode != mode.Merge:
		defs = append(defs, positionHashDef(), "PRIMARY KEY ("+mysqlconn.QuoteIdent(mode.Seq)+")",
			fmt.Sprintf("UNIQUE KEY `sluice_change` (%s, %s)", mysqlconn.QuoteIdent(positionHash), mysqlconn.QuoteIdent(mode.ChangeIndex)))
		if sh.Mode == mode.History {
			defs = append(defs, "KEY `sluice_key` ("+keys+")")
		}
	case len(t.Key) > 0:
		defs = append(defs, "PRIMARY KEY ("+keys+")")
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=%s", tg.ident, strings.Join(defs, ", "), s.srv.collation)
}

// positionHashDef defines the positionHash column.
func positionHashDef() string {
	return fmt.Sprintf("%s binary(32) AS (UNHEX(SHA2(%s, 256))) STORED", mysqlconn.QuoteIdent(positionHash), mysqlconn.QuoteIdent(mode.Position))
}

// missingSynced is the synced-at column when the existing table lacks it.
func missingSynced(sh *mode.Shape, have map[string]bool) *mode.Column {
	for _, c := range sh.Managed {
		if c.Kind == mode.KindSyncedAt && have != nil && !have[strings.ToLower(c.Name)] {
			return &c
		}
	}
	return nil
}

// managedDef defines a column the target fills itself: the sequence, or
// the time of the last write (MySQL sets it on every insert and update).
func managedDef(c mode.Column) string {
	n := mysqlconn.QuoteIdent(c.Name)
	if c.Kind == mode.KindSeq {
		return n + " bigint NOT NULL AUTO_INCREMENT"
	}
	return n + " datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
}

// columnTypeOf is the MySQL type of a mode column.
func columnTypeOf(k mode.Kind) string {
	switch k {
	case mode.KindCommitTime, mode.KindSyncedAt, mode.KindDeletedAt, mode.KindValidFrom, mode.KindValidTo:
		return "datetime(6)"
	case mode.KindCurrent:
		return "tinyint(1)"
	case mode.KindChangeIndex, mode.KindSeq:
		return "bigint"
	case mode.KindBefore, mode.KindAfter:
		return "json"
	case mode.KindOp:
		return "varchar(8)"
	case mode.KindPosition:
		return positionType
	}
	return "varchar(255)"
}

// columnType is the column's type verbatim with its nullability. A server
// with explicit_defaults_for_timestamp off would make a bare timestamp column
// NOT NULL and update it on every UPDATE: an explicit NULL or DEFAULT stops
// that.
func (s *Sink) columnType(c change.Column, notNull bool) string {
	timestamp := strings.HasPrefix(strings.ToLower(c.Type), "timestamp")
	switch {
	case notNull && timestamp && !s.srv.explicitTS:
		return c.Type + " NOT NULL DEFAULT '0000-00-00 00:00:00'"
	case notNull:
		return c.Type + " NOT NULL"
	case timestamp:
		return c.Type + " NULL"
	}
	return c.Type
}

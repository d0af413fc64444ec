package mysql

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluicecdc/sluice/pkg/change"
)

// decodeRows replaces go-mysql's rows decoding (it runs in go-mysql's reader
// goroutine): rows of tables we do not replicate are left undecoded.
func (st *stream) decodeRows(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if e.Table == nil || !st.s.selected(string(e.Table.Schema), string(e.Table.Table)) {
		return nil
	}
	// go-mysql reads row images until the data ends: an image of no
	// columns takes no bytes, and it loops forever (found by
	// FuzzTableMapRows).
	if e.ColumnCount == 0 || e.ColumnCount != e.Table.ColumnCount || noColumn(e.ColumnBitmap1, e.ColumnCount) ||
		e.ColumnBitmap2 != nil && noColumn(e.ColumnBitmap2, e.ColumnCount) {
		return permanentf("rows event of %s.%s has row images of no columns, or of %d columns for a table map of %d: the binlog is damaged",
			e.Table.Schema, e.Table.Table, e.ColumnCount, e.Table.ColumnCount)
	}
	return e.DecodeData(pos, data)
}

// noColumn tells whether a rows event's column bitmap names no column.
func noColumn(bitmap []byte, n uint64) bool {
	for i := uint64(0); i < n && i/8 < uint64(len(bitmap)); i++ {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			return false
		}
	}
	return true
}

// handle folds one binlog event into the transaction being read and
// delivers transactions as they commit.
func (st *stream) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	switch ev.Event.(type) {
	case *replication.RotateEvent, *replication.HeartbeatEvent:
	default:
		if h.Flags&replication.LOG_EVENT_ARTIFICIAL_F == 0 {
			st.notePoint(h.LogPos)
		}
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.curFile, st.at = string(e.NextLogName), uint32(e.Position)
		if h.Flags&replication.LOG_EVENT_ARTIFICIAL_F == 0 && h.LogPos != 0 {
			st.rotated = st.curFile // the file ended; the next one is yet to open
			if !st.inGroup {
				st.file, st.pos, st.srv = st.curFile, uint32(e.Position), st.server
			}
		}
	case *replication.FormatDescriptionEvent:
		st.rotated = "" // a file opened
	case *replication.HeartbeatEvent:
		if e.Filename == st.curFile && st.atBoundary() {
			st.notePoint(h.LogPos) // the server sent everything before it
		}
		return st.idle(ctx, e.Filename, h.LogPos)
	case *replication.MariadbGTIDEvent:
		st.beginGroup(ctx)
		g := mariaGTID{Domain: e.GTID.DomainID, Server: e.GTID.ServerID, Seq: e.GTID.SequenceNumber}
		st.maGTID, st.groupGTID = &g, g.String()
		st.begun = !e.IsStandalone()
	case *replication.GTIDEvent:
		st.mysqlGroup(ctx, e)
	case *replication.GtidTaggedLogEvent:
		st.mysqlGroup(ctx, &e.GTIDEvent)
	case *replication.QueryEvent:
		return st.query(ctx, h, e)
	case *replication.TableMapEvent:
		return st.tableMap(e)
	case *replication.RowsEvent:
		if err := st.rows(h, e); err != nil {
			return err
		}
		return st.maybeSendPart(ctx)
	case *replication.XIDEvent:
		return st.commitAppeared(ctx, h)
	case *replication.TransactionPayloadEvent: // MySQL binlog_transaction_compression
		for _, inner := range e.Events {
			if err := st.handle(ctx, inner); err != nil {
				return err
			}
		}
	case *replication.GenericEvent:
		if h.EventType == replication.XA_PREPARE_LOG_EVENT {
			if st.cur != nil || st.partID != "" {
				return permanentf("an XA transaction changed replicated tables (XA PREPARE at %s:%d); XA transactions are not supported", st.curFile, h.LogPos)
			}
			return st.commit(ctx, h)
		}
	}
	return nil
}

// beginGroup starts an event group (a transaction) at its GTID event.
func (st *stream) beginGroup(ctx context.Context) {
	st.abortParts(ctx) // a group that never ended: nothing of it committed
	if st.cur != nil {
		st.cur.Close()
		st.cur = nil
	}
	st.endGroupState()
	st.inGroup = true
	st.appearing = st.appearing[:0]
}

func (st *stream) mysqlGroup(ctx context.Context, e *replication.GTIDEvent) {
	st.beginGroup(ctx)
	if e.ImmediateCommitTimestamp > 0 {
		st.commitTS = time.UnixMicro(int64(e.ImmediateCommitTimestamp)).UTC()
	}
	if e.GNO == 0 || len(e.SID) != 16 { // anonymous: gtid_mode is not ON
		return
	}
	u := hex.EncodeToString(e.SID)
	id := u[:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:]
	if tag := e.Tag.String(); tag != "" {
		id += ":" + tag
	}
	st.groupGTID = id + ":" + strconv.FormatInt(e.GNO, 10)
	st.myGTID = e
}

// query handles transaction control and DDL statements.
func (st *stream) query(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	q := string(e.Query)
	l := &lexer{s: q}
	switch kw := l.word(); kw {
	case "BEGIN":
		st.inGroup, st.begun = true, true
		return nil
	case "COMMIT":
		return st.commitAppeared(ctx, h)
	case "ROLLBACK": // see savepoint.go for when the server logs these
		w := l.word()
		if w == "WORK" {
			w = l.word()
		}
		if w != "TO" {
			return st.rollback(ctx, h)
		}
		name, ok := readSavepoint(l)
		if !ok {
			return permanentf("cannot read the savepoint of %q in the source binlog at %s:%d", shorten(q), st.curFile, h.LogPos)
		}
		return st.rollbackTo(ctx, name)
	case "SAVEPOINT":
		name, ok := l.ident()
		if !ok {
			return permanentf("cannot read the savepoint of %q in the source binlog at %s:%d", shorten(q), st.curFile, h.LogPos)
		}
		return st.setSavepoint(ctx, name)
	case "RELEASE":
		if name, ok := readSavepoint(l); ok {
			st.dropSavepoint(name, true)
		}
		return nil
	case "XA":
		if w := l.word(); w == "START" || w == "BEGIN" || w == "END" {
			st.inGroup, st.begun = true, true
			return nil
		}
	}
	if st.begun {
		// CREATE TABLE ... SELECT in row format: the statement, then its rows.
		st.appearing = append(st.appearing, appearingTables(q, string(e.Schema))...)
		switch kw := (&lexer{s: q}).word(); kw {
		case "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD":
			// binlog_format=STATEMENT in some session: the rows are not in the binlog.
			st.s.opts.Log.Warn().Str("schema", string(e.Schema)).Str("statement", shorten(q)).
				Msg("source logged a change as a statement, not as rows (a session with binlog_format other than ROW); it is not replicated")
		}
		return nil // a statement inside a transaction
	}
	// A statement that is a transaction of its own: DDL.
	if err := st.statement(ctx, e); err != nil {
		return err
	}
	st.appearing = append(st.appearing, appearingTables(q, string(e.Schema))...)
	return st.commitAppeared(ctx, h)
}

// statement handles a DDL statement: TRUNCATE of a replicated table
// becomes a Truncate change; other DDL is logged, and the new shape arrives
// with the next table map.
func (st *stream) statement(ctx context.Context, e *replication.QueryEvent) error {
	q := string(e.Query)
	l := &lexer{s: q}
	switch l.word() {
	case "ALTER", "CREATE", "DROP", "RENAME", "TRUNCATE":
	default:
		return nil
	}
	st.s.opts.Log.Info().Str("schema", string(e.Schema)).Str("statement", shorten(q)).Msg("source DDL")
	if a, ok := parseAlterRenames(q); ok {
		return st.renameColumns(ctx, e, a)
	} else if (&lexer{s: q}).word() == "ALTER" && countKeywords(q, "RENAME", "CHANGE") > 0 {
		st.s.opts.Log.Warn().Str("schema", string(e.Schema)).Str("statement", shorten(q)).
			Msg("cannot read the column renames of this statement: a renamed column of a replicated table arrives in the target as a new column, the old one keeps its values (rename the target column by hand before the next change of the table to keep them together)")
	}
	schema, table, ok := parseTruncate(q)
	if !ok {
		return nil
	}
	if schema == "" {
		schema = string(e.Schema)
	}
	if !st.s.selected(schema, table) {
		return nil
	}
	id := change.TableID{Schema: schema, Name: table}
	t := st.truncateShape(ctx, id)
	if st.cur == nil {
		st.cur = change.NewTxn(st.s.opts.SpillDir, 0)
	}
	return st.cur.Add(change.Change{Op: change.Truncate, Table: t})
}

// renameColumns turns the column renames of an ALTER TABLE of a
// replicated table into a Rename change: it is the statement's own
// transaction, so the target renames its columns in commit order, and a
// restart before the target did re-reads the statement.
func (st *stream) renameColumns(ctx context.Context, e *replication.QueryEvent, a alterRenames) error {
	if len(a.renames) == 0 {
		return nil
	}
	if a.schema == "" {
		a.schema = string(e.Schema)
	}
	if !st.s.selected(a.schema, a.table) {
		return nil
	}
	id := change.TableID{Schema: a.schema, Name: a.table}
	t := st.truncateShape(ctx, id)
	if st.cur == nil {
		st.cur = change.NewTxn(st.s.opts.SpillDir, 0)
	}
	st.s.opts.Log.Info().Stringer("table", id).Int("columns", len(a.renames)).Msg("source renamed columns")
	return st.cur.Add(change.NewRename(t, a.renames))
}

// truncateShape is the shape a Truncate change carries: the latest one the
// binlog (or the snapshot) showed, else — as no table map precedes a
// TRUNCATE — the table's current definition.
func (st *stream) truncateShape(ctx context.Context, id change.TableID) *change.Table {
	if sh := st.last[id]; sh != nil {
		return sh.table
	}
	if t := st.s.knownTable(id); t != nil {
		return t
	}
	if t, _, err := st.s.describeTables(ctx, st.s.db, []change.TableID{id}); err == nil && len(t) == 1 {
		st.s.remember(t)
		return t[0]
	}
	return &change.Table{ID: id, Identity: change.IdentityFull, Dialect: change.MySQL}
}

// tableMap records the shape of a replicated table for the rows events
// that follow, keeping the *change.Table while the shape is unchanged.
func (st *stream) tableMap(e *replication.TableMapEvent) error {
	if !st.s.selected(string(e.Schema), string(e.Table)) {
		delete(st.byID, e.TableID)
		return nil
	}
	id := change.TableID{Schema: string(e.Schema), Name: string(e.Table)}
	prev := st.last[id]
	if prev != nil && sameTableMap(prev.tm, e) {
		st.byID[e.TableID] = prev
		return nil
	}
	sh, err := fromTableMap(e, st.s.cs)
	if err != nil {
		return err
	}
	if prev != nil && prev.table.SameShape(sh.table) {
		sh.table = prev.table
	} else if k := st.s.knownTable(id); k != nil && k.SameShape(sh.table) {
		sh.table = k
	}
	st.last[id] = sh
	st.byID[e.TableID] = sh
	return nil
}

// rows turns a rows event of a replicated table into changes.
func (st *stream) rows(h *replication.EventHeader, e *replication.RowsEvent) error {
	sh := st.byID[e.TableID]
	if sh == nil {
		return nil // not replicated
	}
	id := sh.table.ID
	if int(e.ColumnCount) != len(sh.cols) {
		return permanentf("rows event of %s has %d columns, its table map %d", id, e.ColumnCount, len(sh.cols))
	}
	for _, skipped := range e.SkippedColumns {
		if len(skipped) > 0 {
			return permanentf("the binlog rows of %s leave out columns: binlog_row_image is not FULL; "+
				"set binlog_row_image = FULL in my.cnf [mysqld] and run SET GLOBAL binlog_row_image = 'FULL' "+
				"(changes logged before cannot be replicated exactly: run `sluice run --resnapshot` afterwards)", id)
		}
	}
	var op change.Op
	switch h.EventType {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		op = change.Insert
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		op = change.Delete
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1,
		replication.PARTIAL_UPDATE_ROWS_EVENT:
		op = change.Update
		if len(e.Rows)%2 != 0 {
			return permanentf("update rows event of %s has an odd number of row images", id)
		}
	default:
		return permanentf("unknown rows event type %s", h.EventType)
	}
	st.inGroup, st.begun = true, true
	if st.cur == nil {
		st.cur = change.NewTxn(st.s.opts.SpillDir, 0)
	}
	step := 1
	if op == change.Update {
		step = 2
	}
	for i := 0; i+step <= len(e.Rows); i += step {
		r, err := st.row(sh, e.Rows[i])
		if err != nil {
			return err
		}
		c := change.Change{Op: op, Table: sh.table}
		switch op {
		case change.Insert:
			c.After = r
		case change.Delete:
			c.Before = r
		case change.Update:
			c.Before = r
			if c.After, err = st.row(sh, e.Rows[i+1]); err != nil {
				return err
			}
		}
		if err := st.cur.Add(c); err != nil {
			return err
		}
	}
	return nil
}

// row converts one row image.
func (st *stream) row(sh *shape, vals []any) (change.Row, error) {
	if len(vals) < len(sh.cols) {
		return nil, permanentf("row of %s has %d values for %d columns", sh.table.ID, len(vals), len(sh.cols))
	}
	row := make(change.Row, len(sh.cols))
	for i := range sh.cols {
		if vals[i] == nil {
			row[i] = change.NullValue
			continue
		}
		var err error
		if st.scratch, err = binlogText(&sh.cols[i], st.scratch[:0], vals[i]); err != nil {
			if permanent(err) {
				return nil, err
			}
			return nil, permanentf("table %s column %s (%s): %v", sh.table.ID, sh.cols[i].name, sh.table.Columns[i].Type, err)
		}
		row[i] = change.Value{State: change.Present, Data: st.arena.Copy(st.scratch)}
	}
	return row, nil
}

// endGroup moves the resume point past the event group ending at h.
func (st *stream) endGroup(h *replication.EventHeader) error {
	if st.maGTID != nil {
		st.maria = st.maria.set(*st.maGTID)
		st.useGTID = st.s.flavor == "mariadb"
	}
	if st.myGTID != nil && st.mysqlSet != nil {
		if err := st.mysqlSet.Update(st.groupGTID); err != nil {
			return permanentf("track GTID %s: %v", st.groupGTID, err)
		}
	}
	st.file, st.pos, st.srv = st.curFile, h.LogPos, st.server
	return nil
}

// commit ends the event group at h: the resume point moves past it, and
// its changes, if any, are delivered.
func (st *stream) commit(ctx context.Context, h *replication.EventHeader) error {
	if err := st.endGroup(h); err != nil {
		return err
	}
	txn, id, ts, parted := st.cur, st.groupGTID, st.commitTS, st.partID != ""
	if parted {
		txn = nil // endParts sends what is left
	} else {
		st.cur = nil
	}
	st.endGroupState()
	if txn == nil && !parted {
		return nil
	}
	if id == "" {
		id = st.file + ":" + strconv.FormatUint(uint64(st.pos), 10)
	}
	if ts.IsZero() {
		ts = time.Unix(int64(h.Timestamp), 0).UTC()
	}
	if parted {
		return st.endParts(ctx, &change.Txn{Commit: ts, Position: st.resume()})
	}
	txn.ID, txn.Commit, txn.Position = id, ts, st.resume()
	return st.deliver(ctx, txn)
}

// commitAppeared commits the event group at h, then asks for the
// back-fill of the tables it made appear in the selection, which returns
// once the request is recorded: the stream reads on only then
// (newtables.go).
func (st *stream) commitAppeared(ctx context.Context, h *replication.EventHeader) error {
	if err := st.commit(ctx, h); err != nil {
		return err
	}
	if len(st.appearing) == 0 {
		return nil
	}
	ids := st.appearing
	st.appearing = nil
	return st.appeared(ctx, ids)
}

// shorten cuts a statement for the log.
func shorten(q string) string {
	if len(q) > 300 {
		return q[:300] + "..."
	}
	return q
}

// lexer reads the words of a SQL statement, skipping spaces and comments.
type lexer struct {
	s string
	i int
}

func (l *lexer) skip() {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.i++
		case strings.HasPrefix(l.s[l.i:], "/*"):
			end := strings.Index(l.s[l.i+2:], "*/")
			if end < 0 {
				l.i = len(l.s)
				return
			}
			l.i += 2 + end + 2
		case strings.HasPrefix(l.s[l.i:], "-- ") || c == '#':
			end := strings.IndexByte(l.s[l.i:], '\n')
			if end < 0 {
				l.i = len(l.s)
				return
			}
			l.i += end + 1
		default:
			return
		}
	}
}

// word reads a keyword, upper-cased ("" if none).
func (l *lexer) word() string {
	l.skip()
	start := l.i
	for l.i < len(l.s) && (l.s[l.i]|0x20 >= 'a' && l.s[l.i]|0x20 <= 'z' || l.s[l.i] == '_') {
		l.i++
	}
	return strings.ToUpper(l.s[start:l.i])
}

// ident reads an identifier: `quoted`, "quoted" or bare.
func (l *lexer) ident() (string, bool) {
	l.skip()
	if l.i >= len(l.s) {
		return "", false
	}
	if q := l.s[l.i]; q == '`' || q == '"' {
		var b strings.Builder
		for l.i++; l.i < len(l.s); l.i++ {
			if l.s[l.i] == q {
				if l.i+1 < len(l.s) && l.s[l.i+1] == q {
					b.WriteByte(q)
					l.i++
					continue
				}
				l.i++
				return b.String(), b.Len() > 0
			}
			b.WriteByte(l.s[l.i])
		}
		return "", false
	}
	start := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		if c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_' || c == '$' || c >= 0x80 {
			l.i++
			continue
		}
		break
	}
	return l.s[start:l.i], l.i > start
}

// parseTruncate reads "TRUNCATE [TABLE] [db.]t"; schema is "" when not
// qualified.
func parseTruncate(q string) (schema, table string, ok bool) {
	l := &lexer{s: q}
	if l.word() != "TRUNCATE" {
		return "", "", false
	}
	save := l.i
	if l.word() != "TABLE" {
		l.i = save
	}
	name, ok := l.ident()
	if !ok {
		return "", "", false
	}
	l.skip()
	if l.i < len(l.s) && l.s[l.i] == '.' {
		l.i++
		t, ok := l.ident()
		if !ok {
			return "", "", false
		}
		return name, t, true
	}
	return "", name, true
}

package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/redact"
)

// Snapshot rows go in with LOAD DATA LOCAL INFILE when the server allows it:
// the server parses tab-separated text faster than INSERT statements. Each
// batch is one transaction, committed only when the server reported no
// warning: LOCAL turns data errors into warnings, even in strict mode.

// infileBatch bounds the bytes of one LOAD DATA statement.
const infileBatch = 16 << 20

var infileSeq atomic.Uint64

// canInfile tells whether LOAD DATA LOCAL works against this server, trying
// it once with no rows.
func (s *Sink) canInfile(ctx context.Context, conn *sql.Conn) bool {
	s.infileOnce.Do(func() {
		if !s.srv.localInfile {
			return
		}
		_, err := s.loadData(ctx, conn, nil, "`sluice`.`positions`", "", false)
		s.infileOK = err == nil
		if err != nil {
			s.opts.Log.Info().Err(err).Msg("LOAD DATA LOCAL INFILE is refused; loading snapshots with INSERT")
		}
	})
	return s.infileOK
}

// loadData runs one LOAD DATA LOCAL statement with data as the file and
// returns the rows it affected (with replace, a replaced row counts twice).
func (s *Sink) loadData(ctx context.Context, conn *sql.Conn, data []byte, ident, cols string, replace bool) (int64, error) {
	name := fmt.Sprintf("sluice-%d", infileSeq.Add(1))
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(data) })
	defer mysql.DeregisterReaderHandler(name)
	mode := ""
	if replace {
		mode = "REPLACE "
	}
	q := fmt.Sprintf(`LOAD DATA LOCAL INFILE 'Reader::%s' %sINTO TABLE %s CHARACTER SET binary
		FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' %s`, name, mode, ident, cols)
	res, err := conn.ExecContext(ctx, q)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// infile collects rows of one table as LOAD DATA text.
type infile struct {
	tg   *target
	cols string // column list, with variables and SET for bit and json columns
	buf  []byte
	rows int64
}

func newInfile(tg *target) *infile {
	var list, set []string
	for i, c := range tg.cols {
		v := fmt.Sprintf("@c%d", i)
		switch tg.kinds[i] {
		case kindBit: // text would be stored as its bytes
			set = append(set, fmt.Sprintf("%s = CAST(%s AS UNSIGNED)", c, v))
		case kindJSON: // MySQL makes no JSON of a binary string
			set = append(set, fmt.Sprintf("%s = CONVERT(%s USING utf8mb4)", c, v))
		default:
			list = append(list, c)
			continue
		}
		list = append(list, v)
	}
	cols := "(" + strings.Join(list, ", ") + ")"
	if len(set) > 0 {
		cols += " SET " + strings.Join(set, ", ")
	}
	return &infile{tg: tg, cols: cols}
}

// add appends one row as a line: values tab-separated, NULL as \N.
func (w *infile) add(r change.Row) error {
	if len(r) != len(w.tg.cols) {
		return fmt.Errorf("row has %d values, the table %d columns", len(r), len(w.tg.cols))
	}
	for i, v := range r {
		if i > 0 {
			w.buf = append(w.buf, '\t')
		}
		if v.State != change.Present {
			w.buf = append(w.buf, `\N`...)
			continue
		}
		switch w.tg.kinds[i] {
		case kindBit:
			n, err := strconv.ParseUint(string(v.Data), 2, 64)
			if err != nil || len(v.Data) == 0 {
				return fmt.Errorf("column %s: bit value %s is not 1 to 64 binary digits", w.tg.cols[i], redact.Value(w.tg.values, v.Data))
			}
			w.buf = strconv.AppendUint(w.buf, n, 10)
			continue
		case kindFloat: // see tg.arg
			if f, err := strconv.ParseFloat(string(v.Data), 32); err == nil {
				w.buf = strconv.AppendFloat(w.buf, float64(float32(f)), 'g', -1, 64)
				continue
			}
		}
		w.buf = appendEscaped(w.buf, v.Data)
	}
	w.buf = append(w.buf, '\n')
	w.rows++
	return nil
}

// escapes maps the bytes LOAD DATA would take for syntax to their escape.
var escapes = [256]byte{'\\': '\\', '\t': 't', '\n': 'n', '\r': 'r', 0: '0'}

func appendEscaped(b, v []byte) []byte {
	start := 0
	for i, c := range v {
		if e := escapes[c]; e != 0 {
			b = append(b, v[start:i]...)
			b = append(b, '\\', e)
			start = i + 1
		}
	}
	return append(b, v[start:]...)
}

// flush loads the collected rows in one transaction.
func (w *infile) flush(ctx context.Context, s *Sink, conn *sql.Conn) error {
	if w.rows == 0 {
		return nil
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	n, err := s.loadData(ctx, conn, w.buf, w.tg.ident, w.cols, false)
	if err == nil {
		err = checkWarnings(ctx, conn, w.tg.values)
	}
	if err == nil && n != w.rows {
		err = fmt.Errorf("LOAD DATA loaded %d rows of %d", n, w.rows)
	}
	if err != nil {
		conn.ExecContext(ctx, "ROLLBACK") //nolint:errcheck // the error at hand says more
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	w.buf, w.rows = w.buf[:0], 0
	return nil
}

// checkWarnings fails when the last statement left warnings: with LOCAL,
// values the server changed or rows it skipped are only warnings. Their
// messages quote values only with show (log.values).
func checkWarnings(ctx context.Context, conn *sql.Conn, show bool) error {
	rows, err := conn.QueryContext(ctx, "SHOW WARNINGS LIMIT 3")
	if err != nil {
		return err
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			return err
		}
		msgs = append(msgs, fmt.Sprintf("%s %d: %s", level, code, redact.MySQLMessage(uint16(code), msg, show)))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(msgs) > 0 {
		return errors.New("the target would not store the rows exactly: " + strings.Join(msgs, "; "))
	}
	return nil
}

// infileMinRows is the fewest rows of an insert or append action that go in
// with LOAD DATA LOCAL inside the apply transaction: the server parses the
// text much faster than multi-row INSERTs, which pays for the extra round
// trip (SHOW WARNINGS) only from a few thousand rows on.
const infileMinRows = 2000

// bulk tells whether rows of an action are many enough for applyInfile and
// the server allows LOAD DATA LOCAL.
func (s *Sink) bulk(ctx context.Context, rows []change.Row) bool {
	return len(rows) >= infileMinRows && s.canInfile(ctx, s.conn)
}

// applyInfile writes full rows with LOAD DATA LOCAL inside the open target
// transaction (InnoDB makes it part of the transaction: no implicit
// commit). With replace (an insert action), a row whose key is present
// already is overwritten, as on a replay after a crash; appends (keyless
// tables) are never replayed, as positions commit with the data. LOCAL makes
// data errors mere warnings even in strict mode, so any warning rolls the
// transaction back and fails the sink rather than storing changed values.
func (s *Sink) applyInfile(ctx context.Context, tg *target, rows []change.Row, replace bool) error {
	w := newInfile(tg)
	w.buf = s.infileBuf[:0]
	defer func() { s.infileBuf = w.buf[:0] }()
	for i, r := range rows {
		if err := w.add(r); err != nil {
			return err
		}
		if len(w.buf) >= infileBatch || i == len(rows)-1 {
			if err := s.loadApply(ctx, w, replace); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Sink) loadApply(ctx context.Context, w *infile, replace bool) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	n, err := s.loadData(ctx, s.conn, w.buf, w.tg.ident, w.cols, replace)
	if err != nil {
		return fmt.Errorf("insert with LOAD DATA: %w", err)
	}
	s.infileLoads++
	err = checkWarnings(ctx, s.conn, w.tg.values)
	if err == nil && (n < w.rows || (!replace && n != w.rows)) {
		err = fmt.Errorf("LOAD DATA loaded %d rows of %d", n, w.rows)
	}
	if err != nil {
		// Never let the changed rows commit, whatever runs next.
		if _, rerr := s.conn.ExecContext(ctx, "ROLLBACK"); rerr == nil {
			s.begun = false
		}
		return fmt.Errorf("insert with LOAD DATA: %w", err)
	}
	w.buf, w.rows = w.buf[:0], 0
	return nil
}

package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/sink/mode"
)

func (w tableWriter) Held(ctx context.Context, positions []string) (map[string]bool, error) {
	held := map[string]bool{}
	col := mysqlconn.QuoteIdent(mode.Position)
	// Found through the unique key: on the position's hash, or on the
	// position itself in an old table.
	by, mark := mysqlconn.QuoteIdent(positionHash), "UNHEX(SHA2(?, 256)), "
	if w.tg.oldPositions {
		by, mark = col, "?, "
	}
	for rest := positions; len(rest) > 0; {
		n, size := 0, 0 // long positions (GTID sets) fill a statement sooner
		for ; n < len(rest) && n < 1000 && (n == 0 || size+len(rest[n]) < w.s.srv.maxStmt/2); n++ {
			size += len(rest[n]) + 32
		}
		args := make([]any, n)
		for i, p := range rest[:n] {
			args[i] = p
		}
		q := fmt.Sprintf("SELECT DISTINCT %s FROM %s WHERE %s IN (%s)", col, w.tg.ident, by, strings.TrimSuffix(strings.Repeat(mark, n), ", "))
		if err := w.s.begin(ctx); err != nil {
			return nil, err
		}
		rows, err := w.s.conn.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return nil, err
			}
			held[p] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	return held, nil
}

func (w tableWriter) Insert(ctx context.Context, rows []change.Row) error {
	return w.s.insertRows(ctx, w.tg, rows)
}

func (w tableWriter) Current(ctx context.Context, keys []change.Row) (map[string]change.Row, error) {
	return w.s.currentVersions(ctx, w.tg, keys)
}

// end ends current versions at the one argument's time.
func (w tableWriter) end() string {
	return fmt.Sprintf("UPDATE %s SET %s = ?, %s = 0 WHERE %s = 1", w.tg.ident, mysqlconn.QuoteIdent(mode.ValidTo),
		mysqlconn.QuoteIdent(mode.Current), mysqlconn.QuoteIdent(mode.Current))
}

func (w tableWriter) EndAll(ctx context.Context, at change.Value) error {
	_, err := w.s.exec(ctx, w.end(), string(at.Data))
	return err
}

// End ends versions with one statement per commit time: MySQL's are whole
// seconds, so many transactions share one.
func (w tableWriter) End(ctx context.Context, closes []mode.Close) error {
	var order []string
	byTime := map[string][]change.Row{}
	for _, c := range closes {
		at := string(c.At.Data)
		if byTime[at] == nil {
			order = append(order, at)
		}
		byTime[at] = append(byTime[at], c.Key)
	}
	for _, at := range order {
		if err := w.s.byKeys(ctx, w.tg, w.end()+" AND ", []any{at}, byTime[at]); err != nil {
			return err
		}
	}
	return nil
}

// insertRows inserts full rows, skipping any the target holds already (a
// LOAD DATA of many fails on one instead, which dropHeld rules out).
func (s *Sink) insertRows(ctx context.Context, tg *target, rows []change.Row) error {
	if len(rows) == 0 {
		return nil
	}
	if s.bulk(ctx, rows) {
		return s.applyInfile(ctx, tg, rows, false)
	}
	return s.insert(ctx, tg, tg.all, onDuplicate(tg, tg.all), rows)
}

// currentVersions reads the current versions of the given keys, as rows of
// the source's columns in MySQL's text form, by mode.Shape.KeyString.
func (s *Sink) currentVersions(ctx context.Context, tg *target, keys []change.Row) (map[string]change.Row, error) {
	exprs := make([]string, tg.nsrc)
	for i := range exprs {
		exprs[i] = tg.cols[i]
		switch tg.kinds[i] {
		case kindBit: // the binary digits, as the source sends them
			exprs[i] = fmt.Sprintf("LPAD(BIN(%s), %d, '0')", tg.cols[i], bitWidth(tg.sh.Table.Columns[i].Type))
		case kindFloat: // a FLOAT prints with 6 digits, as a double exactly
			exprs[i] = tg.cols[i] + " + 0e0"
		}
	}
	head := fmt.Sprintf("SELECT %s FROM %s WHERE %s = 1 AND ", strings.Join(exprs, ", "), tg.ident, mysqlconn.QuoteIdent(mode.Current))
	out := map[string]change.Row{}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		q, args, err := tg.keysIn(head, nil, keys[:n])
		if err != nil {
			return nil, err
		}
		if err := s.begin(ctx); err != nil {
			return nil, err
		}
		rows, err := s.conn.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		vals := make([]sql.RawBytes, tg.nsrc)
		ptrs := make([]any, tg.nsrc)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			r := make(change.Row, tg.nsrc)
			for i, v := range vals {
				r[i] = readValue(tg.kinds[i], v)
			}
			out[tg.sh.KeyString(r)] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		keys = keys[n:]
	}
	return out, nil
}

// bitWidth is n of a bit(n) type (1 when absent).
func bitWidth(typ string) int {
	if i := strings.IndexByte(typ, '('); i >= 0 {
		if j := strings.IndexByte(typ[i:], ')'); j > 0 {
			if n, err := strconv.Atoi(typ[i+1 : i+j]); err == nil {
				return n
			}
		}
	}
	return 1
}

// readValue is a value read back from the target in the MySQL dialect's
// text form.
func readValue(k kind, v sql.RawBytes) change.Value {
	if v == nil {
		return change.NullValue
	}
	if k == kindFloat {
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return change.Text(strconv.FormatFloat(float64(float32(f)), 'g', -1, 32))
		}
	}
	return change.Value{State: change.Present, Data: append([]byte{}, v...)}
}

// Package redact keeps row values out of the SQL sinks' errors. Errors end
// up in the log, in the exit message and in /status's last_error, which
// anyone who reaches the HTTP port can read; a row may hold a password, a
// card number or a health record. Unless log.values is true, an error
// names the table and the key columns, never a value.
//
// Servers quote values in their own messages (MySQL "Duplicate entry
// 'x' for key 'k'", PostgreSQL "invalid input syntax for type integer:
// "x"", and PostgreSQL's DETAIL "Key (id)=(42) already exists"). Error
// rewrites the text of such a server error inside an error chain; the
// chain itself is kept, so callers still classify the failure by its code
// with errors.As.
package redact

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Hidden stands for the values left out of a message.
const Hidden = "values not logged; set log.values: true to see them"

// Error returns err with the text of the server error in its chain made
// fit for the log: without values unless show; with show, PostgreSQL's
// DETAIL (which holds them, and is the most useful part then) is added.
// err itself is returned when nothing changes.
func Error(err error, show bool) error {
	if err == nil {
		return nil
	}
	var orig, repl string
	var pg *pgconn.PgError
	var my *mysql.MySQLError
	switch {
	case errors.As(err, &pg):
		orig, repl = pg.Error(), pgText(pg, show)
	case errors.As(err, &my):
		orig, repl = my.Error(), myText(my, show)
	default:
		return err
	}
	if repl == orig {
		return err
	}
	text := err.Error()
	if strings.Contains(text, orig) {
		text = strings.Replace(text, orig, repl, 1)
	} else if !show { // formatted some other way: the server's words cannot be told apart
		text = "server error: " + repl
	}
	return &rewritten{err: err, text: text}
}

// rewritten is an error chain shown with another text.
type rewritten struct {
	err  error
	text string
}

func (r *rewritten) Error() string { return r.text }
func (r *rewritten) Unwrap() error { return r.err }

// Row describes row r of table t for a message: its values with show,
// otherwise the key columns that identify it.
func Row(show bool, t *change.Table, r change.Row) string {
	if show {
		return fmt.Sprint(r)
	}
	if t == nil || len(t.Key) == 0 {
		return "(" + Hidden + ")"
	}
	names := make([]string, 0, len(t.Key))
	for _, k := range t.Key {
		if k < len(t.Columns) {
			names = append(names, t.Columns[k].Name)
		}
	}
	return fmt.Sprintf("with key (%s) (%s)", strings.Join(names, ", "), Hidden)
}

// Value is v for a message with show, else a placeholder.
func Value(show bool, v []byte) string {
	if show {
		return fmt.Sprintf("%q", v)
	}
	return "(" + Hidden + ")"
}

// pgText is a PostgreSQL error's text. Its Error() holds severity,
// message and code; DETAIL, WHERE and the rest are left out.
func pgText(pg *pgconn.PgError, show bool) string {
	if show {
		if pg.Detail != "" {
			return pg.Error() + "; DETAIL: " + pg.Detail
		}
		return pg.Error()
	}
	msg := pg.Message
	switch class := pg.Code[:min(2, len(pg.Code))]; class {
	case "23", // integrity: the message names the constraint, DETAIL the values
		"08", "25", "28", "3D", "3F", "40", "42", "53", "55", "57":
		// Objects, connections, locks, resources: messages name objects, not values.
	default: // data exceptions (22) above all: "invalid input syntax for type integer: "abc""
		msg = hideQuoted(msg, '"')
	}
	return pg.Severity + ": " + msg + " (SQLSTATE " + pg.Code + ")"
}

// myText is a MySQL/MariaDB error's text, "Error N (SQLSTATE): message"
// as the driver prints it.
func myText(my *mysql.MySQLError, show bool) string {
	out := *my
	out.Message = MySQLMessage(my.Number, my.Message, show)
	return out.Error()
}

// MySQLMessage is the message of MySQL/MariaDB error or warning number n
// without the values it quotes, unless show.
func MySQLMessage(n uint16, msg string, show bool) string {
	if show {
		return msg
	}
	switch n {
	case 1048, 1054, 1146, 1205, 1213, 1216, 1217, 1264, 1265, 1364, 1406, 1451, 1452, 3819, 4025:
		// Not null, unknown column or table, locks, foreign keys, out of
		// range, too long, check constraints: names, not values.
	case 1062, 1586: // Duplicate entry '%s' for key '%s'
		return keepTail(msg, " for key ")
	default: // Incorrect %s value: '%s' for column %s at row %d, and the rest
		if strings.Contains(msg, " for column ") {
			return keepTail(msg, " for column ")
		}
		return hideQuoted(msg, '\'')
	}
	return msg
}

// keepTail hides the quoted value before the last sep and keeps the rest:
// "Duplicate entry 'x' for key 'k'" → "Duplicate entry '…' for key 'k'".
func keepTail(msg, sep string) string {
	i := strings.LastIndex(msg, sep)
	if i < 0 {
		return hideQuoted(msg, '\'')
	}
	return hideQuoted(msg[:i], '\'') + msg[i:]
}

// hideQuoted replaces everything from the first quote q to the last one
// with one quoted ellipsis (a value may itself hold quotes, so pairs cannot
// be trusted), and drops a ": ..." right after the last quote, where some
// messages print bytes of the value ("...encoding "UTF8": 0x00").
func hideQuoted(msg string, q byte) string {
	first, last := strings.IndexByte(msg, q), strings.LastIndexByte(msg, q)
	if first < 0 {
		if i := strings.Index(msg, ": "); i >= 0 {
			return msg[:i] + ": …"
		}
		return msg
	}
	if first == last {
		return msg[:first] + string(q) + "…"
	}
	tail := msg[last+1:]
	if strings.HasPrefix(tail, ": ") {
		tail = ""
	}
	return msg[:first] + string(q) + "…" + string(q) + tail
}

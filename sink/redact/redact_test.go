package redact

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/change"
)

// TestError: server errors that quote a row value lose the value unless
// values may be shown; what identifies the problem (code, constraint,
// column, table) stays, and so does the chain for errors.As.
func TestError(t *testing.T) {
	const secret = "sk_live_4242"
	wrap := func(e error) error { return fmt.Errorf("apply changes to dwh.t: upsert: %w", e) }
	for _, c := range []struct {
		err        error
		hidden     string // want, without values
		shownExtra string // want in addition, with values
	}{
		{wrap(&pgconn.PgError{Severity: "ERROR", Code: "23514", Message: `new row for relation "t" violates check constraint "t_note_check"`,
			Detail: "Failing row contains (1, " + secret + ")."}),
			`apply changes to dwh.t: upsert: ERROR: new row for relation "t" violates check constraint "t_note_check" (SQLSTATE 23514)`, "DETAIL: Failing row contains (1, " + secret},
		{wrap(&pgconn.PgError{Severity: "ERROR", Code: "23505", Message: `duplicate key value violates unique constraint "t_email_key"`,
			Detail: "Key (email)=(" + secret + ") already exists."}),
			`violates unique constraint "t_email_key" (SQLSTATE 23505)`, "Key (email)=(" + secret + ") already exists"},
		{wrap(&pgconn.PgError{Severity: "ERROR", Code: "22P02", Message: `invalid input syntax for type integer: "` + secret + `"`}),
			`ERROR: invalid input syntax for type integer: "…" (SQLSTATE 22P02)`, ""},
		{wrap(&pgconn.PgError{Severity: "ERROR", Code: "22003", Message: `value "` + secret + `"x" is out of range for type integer`}),
			`ERROR: value "…" is out of range for type integer (SQLSTATE 22003)`, ""},
		{wrap(&pgconn.PgError{Severity: "ERROR", Code: "22021", Message: `invalid byte sequence for encoding "UTF8": 0x` + secret}),
			`ERROR: invalid byte sequence for encoding "…" (SQLSTATE 22021)`, ""},
		{wrap(&mysql.MySQLError{Number: 1062, Message: "Duplicate entry '" + secret + "' for key 'email'"}),
			`Error 1062: Duplicate entry '…' for key 'email'`, ""},
		{wrap(&mysql.MySQLError{Number: 1366, Message: "Incorrect integer value: '" + secret + "' for column `dwh`.`t`.`id` at row 1"}),
			"Error 1366: Incorrect integer value: '…' for column `dwh`.`t`.`id` at row 1", ""},
		{wrap(&mysql.MySQLError{Number: 1292, Message: "Truncated incorrect DOUBLE value: '" + secret + "'"}),
			"Error 1292: Truncated incorrect DOUBLE value: '…'", ""},
		{wrap(&mysql.MySQLError{Number: 1690, Message: "BIGINT UNSIGNED value is out of range in '`t`.`n` - '" + secret + "''"}),
			"Error 1690: BIGINT UNSIGNED value is out of range in '…'", ""},
		{wrap(&mysql.MySQLError{Number: 4025, Message: "CONSTRAINT `t_note` failed for `dwh`.`t`"}),
			"Error 4025: CONSTRAINT `t_note` failed for `dwh`.`t`", ""},
	} {
		hidden := Error(c.err, false)
		if strings.Contains(hidden.Error(), secret) || !strings.Contains(hidden.Error(), c.hidden) {
			t.Errorf("hidden:\n got %s\nwant it to contain %s and no value", hidden, c.hidden)
		}
		var pg *pgconn.PgError
		var my *mysql.MySQLError
		if !errors.As(hidden, &pg) && !errors.As(hidden, &my) {
			t.Errorf("hidden %s: the server error is no longer in the chain", hidden)
		}
		shown := Error(c.err, true).Error()
		if c.shownExtra == "" && !strings.Contains(c.err.Error(), secret) {
			continue // the server said no value
		}
		if !strings.Contains(shown, secret) || c.shownExtra != "" && !strings.Contains(shown, c.shownExtra) {
			t.Errorf("shown: %s lacks the value (%q)", shown, c.shownExtra)
		}
	}
	plain := errors.New("apply changes to dwh.t: the change has no new row")
	if Error(plain, false) != plain {
		t.Error("an error without a server error inside was changed")
	}
}

func TestRow(t *testing.T) {
	tbl := &change.Table{ID: change.TableID{Schema: "s", Name: "t"}, Key: []int{0},
		Columns: []change.Column{{Name: "id"}, {Name: "card"}}}
	r := change.Row{change.Text("42"), change.Text("4111111111111111")}
	if got := Row(false, tbl, r); strings.Contains(got, "4111") || strings.Contains(got, "42") || !strings.Contains(got, "key (id)") {
		t.Errorf("hidden row: %s", got)
	}
	if got := Row(true, tbl, r); !strings.Contains(got, "4111111111111111") {
		t.Errorf("shown row: %s", got)
	}
}

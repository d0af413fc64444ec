package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/errkind"
)

// TestClassify: the sink marks serialization failures, deadlocks and lock
// timeouts transient by SQLSTATE (messages may be translated); a value the
// target refuses or a missing table stays permanent.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		code string
		want bool
	}{
		{"40001", true}, {"40P01", true}, {"55P03", true},
		{"57P01", true}, // errkind's: the server shuts down
		{"22001", false}, {"42P01", false}, {"23505", false}, {"55006", false},
	} {
		err := classify(fmt.Errorf("apply changes: %w", &pgconn.PgError{Code: c.code, Message: "übersetzt"}))
		if got := errkind.Transient(err); got != c.want {
			t.Errorf("SQLSTATE %s: transient %v, want %v", c.code, got, c.want)
		}
	}
}

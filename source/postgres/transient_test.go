package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/errkind"
)

// TestClassify: a slot still in use by the previous walsender passes; a
// lost slot or missing rights do not.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("start replication: %w", &pgconn.PgError{Code: "55006", Message: "replication slot is active"}), true},
		{fmt.Errorf("start replication: %w", &pgconn.PgError{Code: "57P03"}), true},
		{fmt.Errorf("connect: %w", &pgconn.PgError{Code: "28P01"}), false},
		{fmt.Errorf("%w: slot sluice_x lost WAL", ErrSlotLost), false},
	} {
		if got := errkind.Transient(classify(c.err)); got != c.want {
			t.Errorf("%v: transient %v, want %v", c.err, got, c.want)
		}
	}
}

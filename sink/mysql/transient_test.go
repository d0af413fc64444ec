package mysql

import (
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/pkg/errkind"
)

// TestClassify: lock wait timeouts, deadlocks and interrupted queries
// pass; a value the target refuses or bad credentials do not.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		n    uint16
		want bool
	}{
		{1205, true}, {1213, true}, {1317, true},
		{2006, true}, // errkind's: the server has gone away
		{1045, false}, {1406, false}, {1146, false},
	} {
		err := classify(fmt.Errorf("apply changes: %w", &mysql.MySQLError{Number: c.n}))
		if got := errkind.Transient(err); got != c.want {
			t.Errorf("error %d: transient %v, want %v", c.n, got, c.want)
		}
	}
}

package mysql

import (
	"fmt"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	drv "github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/pkg/errkind"
)

// TestClassify: from the binlog connection or the snapshot's, lock waits,
// deadlocks and interrupted queries pass; a purged binlog does not.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("read binlog: %w", &gomysql.MyError{Code: 1317}), true},
		{fmt.Errorf("read chunk: %w", &drv.MySQLError{Number: 1205}), true},
		{fmt.Errorf("lock tables: %w", &drv.MySQLError{Number: 1213}), true},
		{fmt.Errorf("read binlog: %w", &gomysql.MyError{Code: 2013}), true}, // errkind's
		{fmt.Errorf("read binlog: %w", &gomysql.MyError{Code: 1236}), false},
		{fmt.Errorf("%w: run sluice run --resnapshot", ErrPositionLost), false},
		{fmt.Errorf("connect: %w", &drv.MySQLError{Number: 1045}), false},
	} {
		if got := errkind.Transient(classify(c.err)); got != c.want {
			t.Errorf("%v: transient %v, want %v", c.err, got, c.want)
		}
	}
}

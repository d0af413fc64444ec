package mysql

import (
	"errors"

	"github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/pkg/errkind"
)

// classify marks the server errors that applying changes meets and that
// pass by themselves: a lock wait timeout (1205), a deadlock (1213), a
// query interrupted (1317). Connection and shutdown codes are errkind's.
func classify(err error) error {
	var my *mysql.MySQLError
	if errors.As(err, &my) && lockCode(my.Number) {
		return errkind.Mark(err, true)
	}
	return err
}

func lockCode(n uint16) bool { return n == 1205 || n == 1213 || n == 1317 }

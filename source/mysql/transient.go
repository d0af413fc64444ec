package mysql

import (
	"errors"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	drv "github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/pkg/errkind"
)

// classify marks the server errors of the source that pass by themselves,
// from the binlog connection (go-mysql) or the snapshot's (database/sql):
// a lock wait timeout (1205, the snapshot's FLUSH TABLES … WITH READ
// LOCK), a deadlock (1213), a query interrupted (1317). Connection and
// shutdown codes are errkind's; a purged binlog is ErrPositionLost.
func classify(err error) error {
	var gm *gomysql.MyError
	if errors.As(err, &gm) && (gm.Code == 1205 || gm.Code == 1213 || gm.Code == 1317) {
		return errkind.Mark(err, true)
	}
	var my *drv.MySQLError
	if errors.As(err, &my) && (my.Number == 1205 || my.Number == 1213 || my.Number == 1317) {
		return errkind.Mark(err, true)
	}
	return err
}

package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/errkind"
)

// classify marks the server errors that applying changes meets and that
// pass by themselves: a serialization failure, a deadlock, a lock not
// available (lock_timeout). Connection and shutdown codes are errkind's.
func classify(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "40001", "40P01", "55P03":
			return errkind.Mark(err, true)
		}
	}
	return err
}

package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/errkind"
)

// classify marks the server errors of the source that pass by themselves:
// the replication slot in use (55006) while the previous connection's
// walsender exits. Connection and shutdown codes are errkind's; a lost
// slot is ErrSlotLost, permanent.
func classify(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "55006" {
		return errkind.Mark(err, true)
	}
	return err
}

package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/sink/mode"
)

// checkPositions looks at how an existing target table keeps source
// positions. An older Sluice made the position column varchar(3000),
// which a long GTID set does not fit, and keyed history and append tables
// on the position itself. Such a table keeps working as it is (positions
// up to 3000 characters); the log says once how to lift the limit, since
// the change rebuilds the table, which its owner should schedule.
func (s *Sink) checkPositions(ctx context.Context, tg *target, sh *mode.Shape, have map[string]bool) error {
	i := sh.Extra(mode.KindPosition)
	if i < 0 {
		return nil
	}
	col := sh.Table.Columns[i].Name
	var typ string
	err := s.conn.QueryRowContext(ctx, `SELECT DATA_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?`, tg.id.Schema, tg.id.Name, col).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // added with the current type
	}
	if err != nil {
		return fmt.Errorf("read position column of target table %s: %w", tg.id, err)
	}
	tg.oldPositions = sh.Mode != mode.Merge && !have[positionHash]
	if typ != "varchar" && !tg.oldPositions {
		return nil
	}
	fix := fmt.Sprintf("ALTER TABLE %s MODIFY %s %s", tg.ident, mysqlconn.QuoteIdent(col), positionType)
	if tg.oldPositions {
		fix += fmt.Sprintf(", ADD COLUMN %s, DROP KEY `sluice_change`, ADD UNIQUE KEY `sluice_change` (%s, %s)",
			positionHashDef(), mysqlconn.QuoteIdent(positionHash), mysqlconn.QuoteIdent(mode.ChangeIndex))
	}
	s.opts.Log.Warn().Stringer("table", tg.id).Str("column", col).Str("fix", fix).
		Msg("the target table keeps source positions in a varchar (made by an older Sluice): a position longer than it (a long GTID set) will fail to be written; run the fix while Sluice is stopped (it rebuilds the table)")
	return nil
}

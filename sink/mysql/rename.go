package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// renameColumns applies a Rename change with one ALTER TABLE (all renames
// at once, as the source did, so swaps work). The DDL commits what is
// pending first (runDDL); a replay finds the columns renamed already and
// passes over them, as over a column the target does not have. A target
// holding both names stops with the fix.
func (s *Sink) renameColumns(ctx context.Context, c *change.Change) error {
	s.mu.Lock()
	s.lastSrc[c.Table.ID] = schemachange.Renamed(s.lastSrc[c.Table.ID], c.Renames())
	s.mu.Unlock()
	id := s.targetID(c.Table)
	have, err := s.columns(ctx, id)
	if err != nil || have == nil {
		return err
	}
	todo, err := schemachange.Renames(id.String(), c.Renames(), func(n string) bool { return have[strings.ToLower(n)] }, true)
	if err != nil {
		return err
	}
	var specs, names []string
	for _, r := range todo {
		specs = append(specs, "RENAME COLUMN "+mysqlconn.QuoteIdent(r.From)+" TO "+mysqlconn.QuoteIdent(r.To))
		names = append(names, r.From+" → "+r.To)
	}
	if len(specs) == 0 {
		return nil
	}
	ident := mysqlconn.QuoteIdent(id.Schema) + "." + mysqlconn.QuoteIdent(id.Name)
	stmt := "ALTER TABLE " + ident + " " + strings.Join(specs, ", ")
	if err := s.runDDL(ctx, fmt.Sprintf("rename columns of target table %s as the source did (%s)", id, stmt), stmt); err != nil {
		return err
	}
	s.opts.Log.Info().Stringer("table", id).Strs("columns", names).Msg("renamed target columns to follow the source")
	// MySQL DDL commits on its own: the rename's position is stored right
	// after it (see Apply), leaving a replay only the moment in between.
	// Names tell a replayed rename apart, but not a replayed swap.
	s.renamed = true
	return nil
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Teardown drops the pipeline's replication slot and publication on the
// source (with dryRun, only lists which of them exist). A slot in use is an
// error: the running Sluice must be stopped first; so is a slot or a
// publication another pipeline owns (see owner.go), which stay.
func (s *Source) Teardown(ctx context.Context, dryRun bool) ([]string, error) {
	var did []string
	if _, err := s.checkOwner(ctx, s.meta); err != nil {
		return nil, err
	}
	si, err := s.slot(ctx)
	if err != nil {
		return nil, err
	}
	if si.exists {
		if si.active {
			return nil, fmt.Errorf("replication slot %s is in use; stop the sluice (or other client) streaming from it first", s.opts.Slot)
		}
		if !dryRun {
			if _, err := s.meta.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.opts.Slot); err != nil {
				return did, fmt.Errorf("drop replication slot %s: %w", s.opts.Slot, err)
			}
		}
		did = append(did, "replication slot "+s.opts.Slot)
	}
	var pub bool
	if err := s.meta.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, s.opts.Publication).Scan(&pub); err != nil {
		return did, fmt.Errorf("look up publication %s: %w", s.opts.Publication, err)
	}
	if pub {
		if !dryRun {
			if _, err := s.meta.Exec(ctx, "DROP PUBLICATION "+pgx.Identifier{s.opts.Publication}.Sanitize()); err != nil {
				return did, fmt.Errorf("drop publication %s: %w", s.opts.Publication, err)
			}
		}
		did = append(did, "publication "+s.opts.Publication)
	}
	return did, nil
}

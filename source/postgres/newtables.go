package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// New tables. A table created while Sluice streams that matches
// source.tables is found by polling the catalog, and then, in this order:
//
//  1. its back-fill is recorded in the pipeline's checkpoint (request
//     returns only then), so a crash from here on resumes it;
//  2. it is added to the publication. pgoutput decides whether a
//     transaction's changes of the table are sent with the catalog as of
//     that transaction's commit, so every transaction committing after
//     the ALTER PUBLICATION commits is streamed; those committing before it
//     (the CREATE TABLE and rows written before the table was found) are
//     not, and the back-fill copies them;
//  3. the back-fill's first chunk waits until every transaction that
//     could have committed before the ALTER PUBLICATION has ended
//     (pg_current_snapshot's xmin passes the xmax seen right after it),
//     so each chunk's snapshot sees all of those: nothing written before
//     the table was published is missed, and what is written after is in
//     the stream, where the chunk's stale filter orders the two.
//
// After a crash before 2, the next start leaves the table out of the
// publication (it is new to it; see publishTables) and the watcher takes
// it the same way; a back-fill recorded in 1 waits for it. A table added to
// source.tables between two runs is taken the same way.

// TableWatchEvery is how often the catalog is polled for new tables.
var TableWatchEvery = 3 * time.Second

var _ pipeline.TableWatcher = (*Source)(nil)

// WatchTables makes the source look for new tables once it streams.
func (s *Source) WatchTables(request func(ctx context.Context, bs []checkpoint.Backfill) error) {
	s.request = request
}

// selected returns whether id is replicated (in the publication).
func (s *Source) selected(id change.TableID) bool {
	s.tablesMu.Lock()
	defer s.tablesMu.Unlock()
	return slices.Contains(s.tables, id)
}

// watchTables polls for new tables until ctx ends.
func (s *Source) watchTables(ctx context.Context) {
	if s.request == nil {
		return
	}
	warned := map[change.TableID]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(TableWatchEvery):
		}
		if err := s.addNewTables(ctx, warned); err != nil && ctx.Err() == nil {
			s.opts.Log.Warn().Err(err).Msg("looking for new tables failed; trying again")
		}
	}
}

// addNewTables publishes and back-fills the tables that match the
// selection and are not replicated yet.
func (s *Source) addNewTables(ctx context.Context, warned map[change.TableID]bool) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	all, err := SelectTables(ctx, conn, s.opts.Tables, s.opts.Exclude)
	if err != nil {
		return err
	}
	for _, id := range all {
		if s.selected(id) {
			continue
		}
		t, _, err := describeTable(ctx, conn, id)
		if err != nil {
			return err
		}
		if !t.HasKey() && t.Identity != change.IdentityFull {
			// Published, its UPDATEs and DELETEs would fail on the source.
			if !warned[id] {
				warned[id] = true
				s.opts.Log.Warn().Stringer("table", id).Msg("new table matches source.tables but has no primary key: not replicated until it has one " +
					"(ALTER TABLE ... ADD PRIMARY KEY); publishing it now would make its UPDATEs and DELETEs fail on the source")
			}
			continue
		}
		if t.HasKey() {
			if err := s.request(ctx, []checkpoint.Backfill{{Table: id.String()}}); err != nil {
				return fmt.Errorf("record the back-fill of new table %s: %w", id, err)
			}
		}
		if err := s.publish(ctx, conn, id); err != nil {
			return err
		}
		s.opts.Log.Info().Stringer("table", id).Bool("backfill", t.HasKey()).Msg("new table added to the publication")
		if !t.HasKey() {
			s.opts.Log.Warn().Stringer("table", id).Msg("new table has no primary key: its changes stream from now on, but its existing rows " +
				"are not copied (a back-fill needs a key); add a primary key and run `sluice snapshot --table` to copy them")
		}
	}
	return nil
}

// publish adds id to the publication and notes the xmax after it (see the
// ordering above).
func (s *Source) publish(ctx context.Context, conn *pgx.Conn, id change.TableID) error {
	sql := fmt.Sprintf("ALTER PUBLICATION %s ADD TABLE %s", pgx.Identifier{s.opts.Publication}.Sanitize(), pgx.Identifier{id.Schema, id.Name}.Sanitize())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("add new table %s to publication %s: %w", id, s.opts.Publication, err)
	}
	if err := s.notePublished(ctx, conn); err != nil {
		return err
	}
	s.tablesMu.Lock()
	s.tables = append(s.tables, id)
	s.tablesMu.Unlock()
	return nil
}

// notePublished records the transaction horizon right after the
// publication changed: back-fills wait until every older transaction ended.
func (s *Source) notePublished(ctx context.Context, conn *pgx.Conn) error {
	var xmax uint64
	if err := conn.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8`).Scan(&xmax); err != nil {
		return fmt.Errorf("read the transaction horizon: %w", err)
	}
	for {
		cur := s.pubXmax.Load()
		if xmax <= cur || s.pubXmax.CompareAndSwap(cur, xmax) {
			return nil
		}
	}
}

// waitPublished waits until every transaction that might have committed
// before the last publication change has ended.
func (s *Source) waitPublished(ctx context.Context, conn *pgx.Conn) error {
	want := s.pubXmax.Load()
	if want == 0 {
		return nil
	}
	logged := time.Now()
	for {
		var xmin uint64
		if err := conn.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8`).Scan(&xmin); err != nil {
			return fmt.Errorf("read the transaction horizon: %w", err)
		}
		if xmin >= want {
			return nil
		}
		if time.Since(logged) > 30*time.Second {
			logged = time.Now()
			s.opts.Log.Info().Uint64("xmin", xmin).Uint64("waiting_for", want).
				Msg("back-fill waits for transactions older than the table's publication to end (see pg_stat_activity for long ones)")
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

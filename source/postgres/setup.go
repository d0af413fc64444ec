package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/change"
)

// SelectTables lists the source tables the include and exclude patterns
// pick: ordinary and partitioned tables (partitions are published through
// their root), outside the system schemas.
func SelectTables(ctx context.Context, conn *pgx.Conn, include, exclude []string) ([]change.TableID, error) {
	rows, err := conn.Query(ctx, `
		SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'sluice') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list source tables: %w", err)
	}
	defer rows.Close()
	var out []change.TableID
	for rows.Next() {
		var id change.TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			return nil, fmt.Errorf("list source tables: %w", err)
		}
		if id.MatchesAny(include) && !id.MatchesAny(exclude) {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

// ensurePublication creates the publication for exactly the selected tables,
// or sets its table list when it exists, after making sure that neither it
// nor the slot belongs to another pipeline, and records this pipeline as
// their owner. Check and record run under a lock, in one transaction, so
// two pipelines starting at once cannot both claim them.
func (s *Source) ensurePublication(ctx context.Context) error {
	return s.publishTables(ctx, false)
}

// publishTables is ensurePublication; with deferNew (streaming resumes
// without a snapshot), selected tables with a primary key that the
// existing publication lacks are left out: they are new since the last
// run, and the table watcher adds them the safe way, recording their
// back-fill first (see newtables.go), so their existing rows are copied.
func (s *Source) publishTables(ctx context.Context, deferNew bool) error {
	tables, err := SelectTables(ctx, s.meta, s.opts.Tables, s.opts.Exclude)
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("source.tables %v (minus source.exclude %v) matches no table in the source database; check the patterns (schema.table, * globs)",
			s.opts.Tables, s.opts.Exclude)
	}
	pubName := pgx.Identifier{s.opts.Publication}.Sanitize()
	tx, err := s.meta.Begin(ctx)
	if err != nil {
		return fmt.Errorf("set up publication %s: %w", s.opts.Publication, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit a no-op
	if _, err := tx.Exec(ctx, ownerLock); err != nil {
		return fmt.Errorf("set up publication %s: %w", s.opts.Publication, err)
	}
	pub, err := s.checkOwner(ctx, tx)
	if err != nil {
		return err
	}
	if pub.exists && deferNew && s.request != nil {
		if tables, err = s.withoutNew(ctx, tx.Conn(), tables); err != nil {
			return err
		}
	}
	s.tablesMu.Lock()
	s.tables = tables
	s.tablesMu.Unlock()
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = pgx.Identifier{t.Schema, t.Name}.Sanitize()
	}
	list := strings.Join(names, ", ")
	sql := fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s WITH (publish_via_partition_root = true)", pubName, list)
	if pub.exists {
		sql = fmt.Sprintf("ALTER PUBLICATION %s SET TABLE %s", pubName, list)
	}
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("set up publication %s: %w", s.opts.Publication, err)
	}
	if err := s.recordOwner(ctx, tx, pub); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("set up publication %s: %w", s.opts.Publication, err)
	}
	if err := s.notePublished(ctx, s.meta); err != nil { // back-fills wait for the transactions before it
		return err
	}
	s.opts.Log.Info().Str("publication", s.opts.Publication).Int("tables", len(tables)).Bool("created", !pub.exists).Msg("publication ready")
	return nil
}

// withoutNew drops from tables those with a primary key that the
// publication does not have yet (unless that would leave none).
func (s *Source) withoutNew(ctx context.Context, conn *pgx.Conn, tables []change.TableID) ([]change.TableID, error) {
	rows, err := conn.Query(ctx, `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`, s.opts.Publication)
	if err != nil {
		return nil, fmt.Errorf("list the tables of publication %s: %w", s.opts.Publication, err)
	}
	published := map[change.TableID]bool{}
	for rows.Next() {
		var id change.TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			rows.Close()
			return nil, err
		}
		published[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var keep []change.TableID
	for _, id := range tables {
		if published[id] {
			keep = append(keep, id)
			continue
		}
		t, _, err := describeTable(ctx, conn, id)
		if err != nil {
			return nil, err
		}
		if !t.HasKey() {
			keep = append(keep, id) // published as before: no back-fill possible
			continue
		}
		s.opts.Log.Info().Stringer("table", id).Msg("table is new since the last run: it is published and back-filled once streaming runs")
	}
	if len(keep) == 0 {
		return tables, nil
	}
	return keep, nil
}

// ownerLock serializes the ownership check and record of pipelines
// starting against one source database at the same time.
const ownerLock = "SELECT pg_advisory_xact_lock(7461230582)"

// slotInfo is what pg_replication_slots says of our slot.
type slotInfo struct {
	exists    bool
	active    bool
	plugin    string
	confirmed LSN
	walStatus string
}

func (s *Source) slot(ctx context.Context) (slotInfo, error) {
	var si slotInfo
	var confirmed, plugin, walStatus *string
	err := s.meta.QueryRow(ctx, `SELECT active, plugin, confirmed_flush_lsn::text, wal_status FROM pg_replication_slots WHERE slot_name = $1`,
		s.opts.Slot).Scan(&si.active, &plugin, &confirmed, &walStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return si, nil
	}
	if err != nil {
		return si, fmt.Errorf("look up replication slot %s: %w", s.opts.Slot, err)
	}
	si.exists = true
	if plugin != nil {
		si.plugin = *plugin
	}
	if walStatus != nil {
		si.walStatus = *walStatus
	}
	if confirmed != nil {
		if si.confirmed, err = ParseLSN(*confirmed); err != nil {
			return si, err
		}
	}
	return si, nil
}

// dropSlot removes our slot if it exists (a snapshot starts over with a new one).
func (s *Source) dropSlot(ctx context.Context) error {
	si, err := s.slot(ctx)
	if err != nil || !si.exists {
		return err
	}
	if si.active {
		return fmt.Errorf("replication slot %s is in use by another process; stop the other sluice (or pg_recvlogical) using it first", s.opts.Slot)
	}
	if _, err := s.meta.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.opts.Slot); err != nil {
		return fmt.Errorf("drop replication slot %s: %w", s.opts.Slot, err)
	}
	s.opts.Log.Info().Str("slot", s.opts.Slot).Msg("dropped old replication slot to start a new snapshot")
	return nil
}

// createSlot creates the permanent pgoutput slot on the replication
// connection; with export, the result names a snapshot that stays valid
// until that connection runs its next command.
func createSlot(ctx context.Context, repl *pgconn.PgConn, slot string, export bool) (pglogrepl.CreateReplicationSlotResult, error) {
	action := "NOEXPORT_SNAPSHOT"
	if export {
		action = "EXPORT_SNAPSHOT"
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: action})
	if err != nil {
		return res, fmt.Errorf("create replication slot %s: %w", slot, err)
	}
	return res, nil
}

// tableIDs returns the selected tables sorted, for logs.
func (s *Source) tableIDs() []string {
	out := make([]string, len(s.tables))
	for i, t := range s.tables {
		out[i] = t.String()
	}
	sort.Strings(out)
	return out
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Which pipeline owns a slot and a publication is recorded in the first
// line of the publication's comment ("sluice pipeline crm-dwh, slot
// sluice_crm_dwh"): slots have no comments, and default names of different
// pipelines can collide (crm-dwh, crm_dwh and CRM.dwh all make
// sluice_crm_dwh). Every pipeline reads the records before it touches a
// slot or publication, so a second one stops instead of stealing the
// first one's slot or rewriting its publication.

const ownerPrefix = "sluice pipeline "

// owner is a parsed ownership record.
type owner struct{ pipeline, slot string }

func (o owner) String() string { return ownerPrefix + o.pipeline + ", slot " + o.slot }

// parseOwner reads the record from a publication comment's first line.
func parseOwner(comment string) (owner, bool) {
	line, _, _ := strings.Cut(comment, "\n")
	rest, ok := strings.CutPrefix(line, ownerPrefix)
	if !ok {
		return owner{}, false
	}
	name, slot, ok := strings.Cut(rest, ", slot ")
	if !ok || name == "" || slot == "" {
		return owner{}, false
	}
	return owner{pipeline: name, slot: slot}, true
}

// withOwner is comment with its record line set to o; the rest (a comment
// of the user's) is kept.
func withOwner(comment string, o owner) string {
	if _, ok := parseOwner(comment); ok {
		_, comment, _ = strings.Cut(comment, "\n")
	}
	if comment == "" {
		return o.String()
	}
	return o.String() + "\n" + comment
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// publicationState is what checkOwner saw of our publication.
type publicationState struct {
	exists  bool
	comment string
}

// checkOwner reads every publication's record and fails, naming both
// pipelines and the fix, when our publication or our slot belongs to
// another pipeline, or our slot to another database. Without a pipeline
// name (Options.Pipeline empty) it only tells whether our publication exists.
func (s *Source) checkOwner(ctx context.Context, q querier) (publicationState, error) {
	var ours publicationState
	fix := fmt.Sprintf("set source.postgres.slot and source.postgres.publication to names of pipeline %s's own (e.g. %s)",
		s.opts.Pipeline, suggestName(s.opts.Slot))
	rows, err := q.Query(ctx, `SELECT p.pubname, COALESCE(obj_description(p.oid, 'pg_publication'), '') FROM pg_publication p ORDER BY 1`)
	if err != nil {
		return ours, fmt.Errorf("read publication owners: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pub, comment string
		if err := rows.Scan(&pub, &comment); err != nil {
			return ours, fmt.Errorf("read publication owners: %w", err)
		}
		o, recorded := parseOwner(comment)
		if pub == s.opts.Publication {
			ours = publicationState{exists: true, comment: comment}
		}
		if !recorded || o.pipeline == s.opts.Pipeline || s.opts.Pipeline == "" {
			continue
		}
		if pub == s.opts.Publication {
			return ours, fmt.Errorf("publication %s belongs to pipeline %s (its comment says so), but this pipeline is %s; "+
				"their slot and publication names collide: %s", pub, o.pipeline, s.opts.Pipeline, fix)
		}
		if o.slot == s.opts.Slot {
			return ours, fmt.Errorf("replication slot %s belongs to pipeline %s (recorded on publication %s), but this pipeline is %s; "+
				"their slot names collide: %s", o.slot, o.pipeline, pub, s.opts.Pipeline, fix)
		}
	}
	if err := rows.Err(); err != nil {
		return ours, fmt.Errorf("read publication owners: %w", err)
	}
	if s.opts.Pipeline == "" {
		return ours, nil
	}
	// Logical slots live in one database; another database's publications
	// are out of sight, but the slot says where it belongs.
	var slotDB, here string
	err = q.QueryRow(ctx, `SELECT COALESCE(s.database::text, ''), current_database() FROM pg_replication_slots s WHERE s.slot_name = $1`,
		s.opts.Slot).Scan(&slotDB, &here)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return ours, fmt.Errorf("look up replication slot %s: %w", s.opts.Slot, err)
	}
	if err == nil && slotDB != here {
		return ours, fmt.Errorf("replication slot %s belongs to database %q, not %s (another pipeline's, or not Sluice's); %s",
			s.opts.Slot, slotDB, here, fix)
	}
	return ours, nil
}

// suggestName proposes another slot name for the fix.
func suggestName(slot string) string {
	return slot[:min(len(slot), 61)] + "_2"
}

// recordOwner writes our record into the publication's comment unless it
// is there already (adopting a publication made before records existed).
func (s *Source) recordOwner(ctx context.Context, tx pgx.Tx, pub publicationState) error {
	if s.opts.Pipeline == "" {
		return nil
	}
	o := owner{pipeline: s.opts.Pipeline, slot: s.opts.Slot}
	comment := withOwner(pub.comment, o)
	if comment == pub.comment {
		return nil
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("COMMENT ON PUBLICATION %s IS %s", pgx.Identifier{s.opts.Publication}.Sanitize(), quoteLiteral(comment))); err != nil {
		return fmt.Errorf("record the owner of publication %s in its comment: %w", s.opts.Publication, err)
	}
	s.opts.Log.Info().Str("publication", s.opts.Publication).Str("slot", s.opts.Slot).Msg("recorded this pipeline as owner of the publication and slot")
	return nil
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ddlLock serializes Sluice's CREATE SCHEMA statements across pipelines
// writing into one target database: two concurrent CREATE SCHEMA IF NOT
// EXISTS of the same name can both pass the check and one then fails on
// pg_namespace's unique index. The lock is transaction-scoped, so it is
// only ever taken in a statement's own implicit transaction (never inside
// a data or snapshot transaction, which would hold it to their end).
const ddlLock = "SELECT pg_advisory_xact_lock(7461230581)"

// ensureSchema creates schema unless it exists (as conn sees it), on a
// short connection of its own.
func (s *Sink) ensureSchema(ctx context.Context, conn *pgx.Conn, schema string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return fmt.Errorf("look up schema %s: %w", schema, err)
	}
	if exists {
		return nil
	}
	ddl, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	defer ddl.Close(context.WithoutCancel(ctx))
	if _, err := ddl.Exec(ctx, ddlLock+"; CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	return nil
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ddlLock serializes Sluice's CREATE SCHEMA statements across pipelines
// writing into one target database: two concurrent CREATE SCHEMA IF NOT
// EXISTS of the same name can both pass the check and one then fails on
// pg_namespace's unique index. The lock is transaction-scoped: outside a
// transaction the statement's own implicit one.
const ddlLock = "SELECT pg_advisory_xact_lock(7461230581)"

// ensureSchema creates schema unless it exists.
func ensureSchema(ctx context.Context, conn *pgx.Conn, schema string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return fmt.Errorf("look up schema %s: %w", schema, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, ddlLock+"; CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	return nil
}

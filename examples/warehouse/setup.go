package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/examples/internal/crm"
	"github.com/sluicecdc/sluice/internal/pgtest"
)

// setUp starts both clusters, creates the crm data set and the record of
// changes on the source, and sets the configs' variables.
func (w *warehouse) setUp(ctx context.Context) error {
	w.say("starting two throwaway PostgreSQL clusters (source crm and target dwh)...")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		w.src, err = pgtest.StartCluster(gctx, pgtest.Options{})
		if err == nil {
			err = w.src.CreateDB(gctx, "crm")
		}
		return err
	})
	g.Go(func() (err error) {
		w.dst, err = pgtest.StartCluster(gctx, pgtest.Options{})
		if err == nil {
			err = w.dst.CreateDB(gctx, "dwh")
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	w.say("source: %s", w.src.DSN("crm"))
	w.say("target: %s (history into schema dwh, merge into schema mart)", w.dst.DSN("dwh"))

	start := time.Now()
	if err := w.src.Exec(ctx, "crm", crm.SchemaSQL+crm.SeedSQL); err != nil {
		return fmt.Errorf("create the crm data set: %w", err)
	}
	// Nothing changes the source between here and the pipelines' snapshots,
	// so the rows copied now are the ones the snapshots see.
	if err := w.src.Exec(ctx, "crm", auditSQL); err != nil {
		return fmt.Errorf("create the record of changes: %w", err)
	}
	w.say("created the crm data set on the source in %s; a trigger records every change of customers and articles in schema audit (only to compute the expected history; Sluice does not need it)",
		time.Since(start).Round(time.Millisecond))

	if err := w.setEnv(); err != nil {
		return err
	}
	for _, p := range []*pipeline{w.history, w.mart} {
		if err := w.showConfig(p); err != nil {
			return err
		}
	}
	var err error
	if w.work, err = crm.NewWorkload(ctx, w.src.DSN("crm"), w.say); err != nil {
		return err
	}
	w.work.Name = "warehouse example"
	w.extra = extraOps{work: w.work, say: w.say}
	return nil
}

// auditSQL keeps, in schema audit of the source, the customers and articles
// as the snapshot sees them and every later change (a trigger), in the
// order each row changed. The verification computes the expected history
// from them. The replicated tables are listed in the configs, so schema
// audit is not replicated.
const auditSQL = `
CREATE SCHEMA audit;
CREATE TABLE audit.customers_start AS TABLE customers;
CREATE TABLE audit.articles_start AS TABLE articles;
CREATE TABLE audit.customers_log (seq bigserial PRIMARY KEY, op text NOT NULL, old_id int, r customers);
CREATE TABLE audit.articles_log (seq bigserial PRIMARY KEY, op text NOT NULL, old_id int, r articles);
CREATE FUNCTION audit.record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	sql text := format('INSERT INTO audit.%I (op, old_id, r) VALUES ($1, $2, $3)', TG_TABLE_NAME || '_log');
BEGIN
	IF TG_OP = 'INSERT' THEN
		EXECUTE sql USING 'insert', NULL::int, NEW;
	ELSIF TG_OP = 'UPDATE' THEN
		EXECUTE sql USING 'update', OLD.id, NEW;
	ELSE
		EXECUTE sql USING 'delete', OLD.id, OLD;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON customers FOR EACH ROW EXECUTE FUNCTION audit.record();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON articles FOR EACH ROW EXECUTE FUNCTION audit.record();
`

// setEnv sets the variables history.yaml and merge.yaml reference. The
// throwaway clusters trust local connections, so the passwords are random
// and never printed; Sluice redacts them from its log.
func (w *warehouse) setEnv() error {
	env := []string{"CRM_USER=postgres", "DWH_USER=postgres", "STATE_DIR=" + w.dir}
	for _, v := range []struct {
		name string
		c    *pgtest.Cluster
	}{{"CRM", w.src}, {"DWH", w.dst}} {
		pw := make([]byte, 12)
		if _, err := rand.Read(pw); err != nil {
			return err
		}
		env = append(env, v.name+"_PASSWORD="+hex.EncodeToString(pw),
			v.name+"_ADDR="+net.JoinHostPort("127.0.0.1", strconv.Itoa(v.c.Port)))
	}
	w.env = env
	w.say("the configs' variables: CRM_USER=postgres CRM_ADDR=127.0.0.1:%d DWH_USER=postgres DWH_ADDR=127.0.0.1:%d STATE_DIR=%s (and CRM_PASSWORD, DWH_PASSWORD)",
		w.src.Port, w.dst.Port, w.dir)
	return nil
}

// showConfig prints a config without its comment lines.
func (w *warehouse) showConfig(p *pipeline) error {
	b, err := os.ReadFile(p.config)
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(w.root, p.config)
	w.say("config %s (comments left out):", rel)
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		w.say("    %s", l)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/examples/internal/crm"
	"github.com/sluicecdc/sluice/internal/pgtest"
)

// setUp starts both clusters, creates the crm data set on the source and
// writes sluice's config.
func (d *demo) setUp(ctx context.Context) error {
	d.say("starting two throwaway PostgreSQL clusters (source and target)...")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		d.src, err = pgtest.StartCluster(gctx, pgtest.Options{})
		if err == nil {
			err = d.src.CreateDB(gctx, "crm")
		}
		return err
	})
	g.Go(func() (err error) {
		d.dst, err = pgtest.StartCluster(gctx, pgtest.Options{})
		if err == nil {
			err = d.dst.CreateDB(gctx, "dwh")
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	d.say("source: %s", d.src.DSN("crm"))
	d.say("target: %s (tables go to schema crm)", d.dst.DSN("dwh"))

	start := time.Now()
	if err := d.src.Exec(ctx, "crm", crm.SchemaSQL+crm.SeedSQL); err != nil {
		return fmt.Errorf("create the crm data set: %w", err)
	}
	counts, err := countRows(ctx, d.src.DSN("crm"), "public")
	if err != nil {
		return err
	}
	d.say("created the crm data set on the source in %s: %s", time.Since(start).Round(time.Millisecond), counts.all())

	d.cfgPath = filepath.Join(d.dir, "sluice.yaml")
	cfg := fmt.Sprintf(configTemplate, d.src.DSN("crm"), d.dst.DSN("dwh"), filepath.Join(d.dir, "crm-to-dwh.checkpoint"))
	if err := os.WriteFile(d.cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	d.say("config %s:", d.cfgPath)
	for _, l := range strings.Split(strings.TrimRight(cfg, "\n"), "\n") {
		d.say("    %s", l)
	}
	if d.work, err = crm.NewWorkload(ctx, d.src.DSN("crm"), d.say); err != nil {
		return err
	}
	return nil
}

// configTemplate is sluice's config: source DSN, target DSN, checkpoint path.
const configTemplate = `name: crm-to-dwh
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
  snapshot: initial          # copy the existing rows first, then stream
sink:
  kind: postgres
  dsn: %s
  mode: merge
  schema: crm                # target tables: dwh.crm.*
  batch:
    wait: 200ms              # flush at least every 200ms
checkpoint:
  kind: file
  path: %s
log:
  level: info
  format: console
`

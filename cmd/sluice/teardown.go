package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint/file"
	"github.com/sluicecdc/sluice/pkg/connector"
)

// teardown removes what the pipeline keeps: the source's slot and
// publication (PostgreSQL), the applied position in the target and the
// checkpoint file. The replicated target tables stay. It lists what it
// will remove and asks unless yes is set; Sluice must not be running.
func teardown(ctx context.Context, path string, yes bool, in io.Reader, out io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	src, err := openLogReader(ctx, connector.Env{Config: cfg, Log: zerolog.Nop()})
	if err != nil {
		return err
	}
	defer src.Close()
	cp := file.ForPipeline(cfg.Checkpoint.Path, cfg.Name)
	steps := []struct {
		what string
		do   func(dryRun bool) ([]string, error)
	}{
		{"source", func(dry bool) ([]string, error) {
			if t, ok := src.(connector.Tearer); ok {
				return t.Teardown(ctx, dry)
			}
			return nil, nil
		}},
		{"target", func(dry bool) ([]string, error) { return teardownSink(ctx, cfg, dry) }},
		{"checkpoint", func(dry bool) ([]string, error) {
			found, err := cp.Remove(dry)
			if !found || err != nil {
				return nil, err
			}
			return []string{"checkpoint file " + cfg.Checkpoint.Path}, nil
		}},
	}
	var plan []string
	for _, s := range steps {
		items, err := s.do(true)
		if err != nil {
			return fmt.Errorf("teardown: %s: %w", s.what, err)
		}
		for _, it := range items {
			plan = append(plan, s.what+": "+it)
		}
	}
	if len(plan) == 0 {
		fmt.Fprintf(out, "pipeline %s holds nothing: no slot, publication, applied position or checkpoint\n", cfg.Name)
		return nil
	}
	fmt.Fprintf(out, "teardown of pipeline %s drops (the target tables stay):\n  %s\n", cfg.Name, strings.Join(plan, "\n  "))
	if !yes {
		fmt.Fprint(out, "type yes to go on: ")
		line, _ := bufio.NewReader(in).ReadString('\n')
		fmt.Fprintln(out)
		if strings.TrimSpace(line) != "yes" {
			return fmt.Errorf("teardown cancelled: nothing was dropped (answer yes, or pass --yes)")
		}
	}
	for _, s := range steps {
		items, err := s.do(false)
		if err != nil {
			return fmt.Errorf("teardown: %s: %w", s.what, err)
		}
		for _, it := range items {
			fmt.Fprintf(out, "dropped %s: %s\n", s.what, it)
		}
	}
	fmt.Fprintf(out, "the next `sluice run` starts pipeline %s afresh (with source.snapshot: initial, by copying every table again)\n", cfg.Name)
	return nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/pkg/verify"
)

// Exit codes of sluice verify.
const (
	verifyEqual      = 0
	verifyDiffer     = 1
	verifyUnverified = 2 // could not verify (an error, a table skipped)
)

// verifyTable is one table's outcome as printed, with the repair's.
type verifyTable struct {
	verify.Result
	Repaired  *int `json:"repaired,omitempty"`  // differences --repair fixed
	Remaining *int `json:"remaining,omitempty"` // differences left after --repair
	plan      *verify.Table
}

type verifyReport struct {
	Tables  []verifyTable `json:"tables"`
	Equal   int           `json:"equal"`
	Differ  int           `json:"differ"`
	Skipped int           `json:"skipped"`
	Errors  int           `json:"errors"`
	Error   string        `json:"error,omitempty"` // why nothing could be verified
	Exit    int           `json:"exit"`
	Seconds float64       `json:"seconds"`
}

// verifyCommand runs `sluice verify` and returns its exit code.
func verifyCommand(ctx context.Context, fs *flag.FlagSet, cfgPath *string, args []string, stdout, stderr io.Writer) int {
	var tables tableFlags
	fs.Var(&tables, "table", "compare only the source tables matching this schema.table pattern (repeatable)")
	asJSON := fs.Bool("json", false, "print JSON (every differing key, up to --max-diffs per table)")
	repair := fs.Bool("repair", false, "copy the differing rows again through the running sluice (http.admin), then compare them again")
	maxDiffs := fs.Int("max-diffs", 1000, "differing keys kept per table")
	wait := fs.Duration("wait", 30*time.Second, "longest wait for the target to apply past a source snapshot")
	if err := parseFlags(fs, args, cfgPath); err != nil {
		return verifyUnverified
	}
	start := time.Now()
	rep, secret, err := runVerify(ctx, *cfgPath, tables, *repair, *maxDiffs, *wait, stderr)
	if err != nil {
		rep.Error = redactString(err.Error(), secret)
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.Exit = exitOf(&rep)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printVerify(stdout, &rep)
	}
	if rep.Error != "" && !*asJSON {
		fmt.Fprintln(stderr, "sluice: verify:", rep.Error)
	}
	if err := reportVerifyRun(ctx, *cfgPath, &rep); err != nil {
		fmt.Fprintln(stderr, "sluice: verify:", err)
	}
	return rep.Exit
}

func exitOf(r *verifyReport) int {
	switch {
	case r.Differ > 0:
		return verifyDiffer
	case r.Error != "" || r.Errors > 0 || r.Skipped > 0 || len(r.Tables) == 0:
		return verifyUnverified
	}
	return verifyEqual
}

func runVerify(ctx context.Context, path string, patterns []string, repair bool, maxDiffs int, wait time.Duration, stderr io.Writer) (verifyReport, []string, error) {
	var rep verifyReport
	cfg, err := loadConfig(path)
	if err != nil {
		return rep, nil, err
	}
	secret := secrets(cfg)
	if cfg.Sink.Kind != "postgres" && cfg.Sink.Kind != "mysql" {
		return rep, secret, fmt.Errorf("sink.kind %s: verify compares SQL targets (postgres, mysql)", cfg.Sink.Kind)
	}
	if repair && (cfg.HTTP.Listen == "" || !cfg.HTTP.Admin) {
		return rep, secret, fmt.Errorf("--repair: %s must set http.listen and http.admin: true (and the running sluice must have been started with them): the rows are copied again through the running pipeline's admin endpoint", path)
	}
	src, err := openLogReader(ctx, kindEnv(cfg, zerolog.Nop()))
	if err != nil {
		return rep, secret, fmt.Errorf("open source: %w", err)
	}
	defer src.Close()
	d, ok := src.(pipeline.Describer)
	if !ok {
		return rep, secret, fmt.Errorf("source.kind %s cannot describe its tables", cfg.Source.Kind)
	}
	described, err := d.DescribeTables(ctx)
	if err != nil {
		return rep, secret, fmt.Errorf("describe source tables: %w", err)
	}
	set, err := compileTransforms(cfg)
	if err != nil {
		return rep, secret, err
	}
	k, err := kinds.Sink(cfg)
	if err != nil {
		return rep, secret, err
	}
	sinkSchema, _ := k.SplitSchema(cfg)
	mode := verify.Mode{Name: cfg.Sink.Mode}
	if cfg.Sink.SoftDelete {
		mode.SoftDelete = cfg.Sink.SoftDeleteColumn
		if mode.SoftDelete == "" {
			mode.SoftDelete = "_deleted_at"
		}
	}
	progress := isTerminal(stderr)
	v, err := verify.New(ctx, verify.Options{
		SourceKind: cfg.Source.Kind, SourceDSN: cfg.Source.DSN, TargetKind: cfg.Sink.Kind, TargetDSN: cfg.Sink.DSN,
		Pipeline: cfg.Name, ParsePosition: src.ParsePosition, Slot: slotOf(cfg), MaxDiffs: maxDiffs, Wait: wait,
		Progress: func(table string, rows int64) {
			if progress {
				fmt.Fprintf(stderr, "\r\033[K%s: %d rows compared", table, rows)
			}
		},
	})
	if err != nil {
		return rep, secret, err
	}
	defer v.Close()
	for _, t := range described {
		if len(patterns) > 0 && !t.ID.MatchesAny(patterns) {
			continue
		}
		p, err := v.Plan(t, set, sinkSchema, mode)
		var res verify.Result
		if err != nil {
			res = verify.Result{Table: t.ID.String(), Status: verify.Failed, Err: err.Error()}
		} else {
			res = v.Table(ctx, p)
		}
		if progress {
			fmt.Fprint(stderr, "\r\033[K")
		}
		res.Err, res.Note = redactString(res.Err, secret), redactString(res.Note, secret)
		vt := verifyTable{Result: res, plan: p}
		if repair && res.Status == verify.Differ {
			repairTable(ctx, v, cfg, &vt, secret)
		}
		rep.Tables = append(rep.Tables, vt)
		switch vt.Status {
		case verify.Equal:
			rep.Equal++
		case verify.Differ:
			rep.Differ++
		case verify.Skipped:
			rep.Skipped++
		default:
			rep.Errors++
		}
	}
	if len(rep.Tables) == 0 {
		return rep, secret, fmt.Errorf("no source table matches %s", strings.Join(patterns, ", "))
	}
	return rep, secret, ctx.Err()
}

// repairTable deletes the target rows the source lacks, asks the running
// sluice to back-fill the source rows of the other differing keys, and
// compares those keys again until they are equal or two minutes pass.
func repairTable(ctx context.Context, v *verify.Verifier, cfg *config.Config, vt *verifyTable, secret []string) {
	fail := func(err error) {
		vt.Note = strings.TrimPrefix(vt.Note+"; ", "; ") + "repair: " + redactString(err.Error(), secret)
	}
	if vt.DiffCount > len(vt.Diffs) {
		fail(fmt.Errorf("%d differences, more than --max-diffs %d: back-fill the table instead (sluice snapshot --table %s)", vt.DiffCount, len(vt.Diffs), vt.Table))
		return
	}
	if cfg.Sink.Mode != "" && cfg.Sink.Mode != "merge" && cfg.Sink.Mode != "history" {
		fail(fmt.Errorf("only merge and history targets are repaired; back-fill the table (sluice snapshot --table %s)", vt.Table))
		return
	}
	diffs := vt.Diffs
	if _, err := v.DeleteExtra(ctx, vt.plan, diffs); err != nil {
		fail(err)
		return
	}
	deadline := time.Now().Add(2 * time.Minute)
	if where := v.BackfillWhere(vt.plan, diffs); where != "" {
		if err := requestBackfill(ctx, cfg, vt.Table, where); err != nil {
			fail(err)
			deadline = time.Now() // compare once: what the deletes fixed
		}
	}
	left := diffs
	var unsure []verify.Diff
	for {
		differ, moving, err := v.Recheck(ctx, vt.plan, left)
		if err != nil {
			fail(err)
			return
		}
		left, unsure = append(differ, moving...), moving
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			fail(ctx.Err())
			return
		case <-time.After(time.Second):
		}
	}
	fixed, remaining := len(diffs)-len(left), len(left)
	vt.Repaired, vt.Remaining = &fixed, &remaining
	if n := verify.MissingCopies(left); n > 0 {
		fail(fmt.Errorf("%d rows of a table without a key are missing from the target: back-fill the table (sluice snapshot --table %s)", n, vt.Table))
	}
	switch {
	case remaining == 0:
		vt.Status = verify.Equal
	case len(unsure) == remaining:
		vt.Status, vt.Err = verify.Failed, fmt.Sprintf("%d repaired rows kept changing on the source while read again: run verify again", remaining)
	}
	vt.Diffs, vt.DiffCount = left, remaining
}

// requestBackfill asks the running sluice for an online back-fill of the
// rows of table matching where.
func requestBackfill(ctx context.Context, cfg *config.Config, table, where string) error {
	body, _ := json.Marshal(backfillRequest{Tables: []string{table}, Where: where})
	url := localURL(cfg.HTTP.Listen, "/admin/backfill")
	for {
		rctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			cancel()
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			return fmt.Errorf("no sluice answers at %s (is `sluice run` running with this config?): %w", url, err)
		}
		var reply adminReply
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&reply)
		resp.Body.Close()
		cancel()
		switch resp.StatusCode {
		case http.StatusAccepted:
			return nil
		case http.StatusServiceUnavailable: // starting, or a back-fill runs: ask again
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			continue
		case http.StatusNotFound:
			return fmt.Errorf("the sluice at %s serves no admin endpoint: restart it with http.admin: true", url)
		}
		if reply.Error == "" {
			reply.Error = resp.Status
		}
		return errors.New("back-fill: " + reply.Error)
	}
}

// printVerify writes one line per table, the differing keys (at most 20
// per table) and a summary.
func printVerify(w io.Writer, r *verifyReport) {
	for _, t := range r.Tables {
		name := t.Table
		if t.Target != "" && t.Target != t.Table {
			name += " → " + t.Target
		}
		switch t.Status {
		case verify.Equal:
			extra := ""
			if t.Repaired != nil {
				extra = fmt.Sprintf(", after repairing %d rows", *t.Repaired)
			}
			fmt.Fprintf(w, "%-40s equal    %d rows, %d chunks, %.1fs%s%s\n", name, t.Rows, t.Chunks, t.Seconds, keyless(t), extra)
		case verify.Differ:
			fmt.Fprintf(w, "%-40s DIFFER   %d rows differ (%s) of %d rows%s\n", name, t.DiffCount, diffKinds(t.Diffs), t.Rows, keyless(t))
			for i, d := range t.Diffs {
				if i == 20 {
					fmt.Fprintf(w, "    ... and %d more (--json lists them)\n", t.DiffCount-20)
					break
				}
				fmt.Fprintf(w, "    %-8s %s\n", d.Kind, diffText(t.plan, d))
			}
		case verify.Skipped:
			fmt.Fprintf(w, "%-40s skipped  %s\n", name, t.Note)
			continue
		default:
			fmt.Fprintf(w, "%-40s ERROR    %s\n", name, t.Err)
		}
		if t.Note != "" {
			fmt.Fprintf(w, "    note: %s\n", t.Note)
		}
	}
	verdict := "EQUAL"
	switch r.Exit {
	case verifyDiffer:
		verdict = "DIFFERENT"
	case verifyUnverified:
		verdict = "NOT VERIFIED"
	}
	fmt.Fprintf(w, "%s: %d tables: %d equal, %d differ, %d skipped, %d errors in %.1fs\n",
		verdict, len(r.Tables), r.Equal, r.Differ, r.Skipped, r.Errors, r.Seconds)
}

func keyless(t verifyTable) string {
	if t.Keyless {
		return " (no key: compared as a multiset)"
	}
	return ""
}

func diffKinds(ds []verify.Diff) string {
	n := map[string]int{}
	for _, d := range ds {
		n[d.Kind]++
	}
	var parts []string
	for _, k := range []string{"missing", "extra", "changed"} {
		if n[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
		}
	}
	return strings.Join(parts, ", ")
}

// diffText is a differing row as key=value pairs, or a keyless row's text
// and counts.
func diffText(p *verify.Table, d verify.Diff) string {
	if d.Key == nil {
		return fmt.Sprintf("%s: %d on the source, %d on the target", d.Row, d.Source, d.Target)
	}
	parts := make([]string, len(d.Key))
	for i, v := range d.Key {
		name := fmt.Sprint(i)
		if p != nil && i < len(p.Key) {
			name = p.SrcCols[p.Key[i]]
		}
		parts[i] = name + "=" + v
	}
	return strings.Join(parts, " ")
}

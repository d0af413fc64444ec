// Command sluice replicates changes from a database's log into targets.
//
//	sluice run --config FILE [--resnapshot]   replicate until SIGINT/SIGTERM
//	sluice snapshot --config FILE --table T [--where COND]   back-fill tables while streaming (http.admin)
//	sluice check --config FILE [--offline]    preflight: every problem with its fix
//	sluice status --config FILE [--json]      state, position, lag, per-table counts
//	sluice verify --config FILE [--table PATTERN] [--json] [--repair]   compare the target with the source; exit 0 equal, 1 differ, 2 not verified
//	sluice teardown --config FILE [--yes]     drop the slot, publication, applied position and checkpoint
//	sluice health [--config FILE | --url URL] [--ready]   exit 0 when the running process answers 200
//	sluice version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("sluice "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the pipeline's YAML config file")
	var err error
	switch cmd {
	case "run":
		resnap := fs.Bool("resnapshot", false, "ignore the checkpoint: recreate the slot and copy every table again")
		if err = parseFlags(fs, args, cfgPath); err == nil {
			err = runPipeline(ctx, *cfgPath, *resnap, stderr)
		}
	case "check":
		offline := fs.Bool("offline", false, "only validate the config file; connect to nothing")
		if err = parseFlags(fs, args, cfgPath); err == nil {
			err = check(ctx, *cfgPath, *offline, stdout)
		}
	case "status":
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		if err = parseFlags(fs, args, cfgPath); err == nil {
			err = status(ctx, *cfgPath, *asJSON, stdout)
		}
	case "snapshot":
		var tables tableFlags
		fs.Var(&tables, "table", "a table to copy again while streaming, schema.table (repeatable)")
		where := fs.String("where", "", "copy only the rows matching this SQL condition on the source table")
		if err = parseFlags(fs, args, cfgPath); err == nil {
			err = snapshotCommand(ctx, *cfgPath, tables, *where, stdout)
		}
	case "verify":
		return verifyCommand(ctx, fs, cfgPath, args, stdout, stderr)
	case "teardown":
		yes := fs.Bool("yes", false, "do not ask for confirmation")
		if err = parseFlags(fs, args, cfgPath); err == nil {
			err = teardown(ctx, *cfgPath, *yes, os.Stdin, stdout)
		}
	case "health":
		err = healthCommand(ctx, fs, cfgPath, args, stdout)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "sluice", version)
		return 0
	case "help", "--help", "-h":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "sluice: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stderr, "sluice:", err)
		}
		return 1
	}
	return 0
}

// errReported means the error was already printed (as a log event or a list).
var errReported = errors.New("reported")

func parseFlags(fs *flag.FlagSet, args []string, cfgPath *string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return fmt.Errorf("%s: --config FILE is required", fs.Name())
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  sluice run --config FILE [--resnapshot]   replicate until SIGINT/SIGTERM, then flush, checkpoint and exit
  sluice snapshot --config FILE --table schema.table [--table ...] [--where COND]
                                            ask the running sluice (http.admin: true) to copy tables again while streaming
  sluice check --config FILE [--offline]    check the config, source and target; print each problem with its fix
  sluice status --config FILE [--json]      print state, positions, lag, per-table counts and snapshot progress
                                            (from the running process via http.listen, else from the checkpoint and the source)
  sluice verify --config FILE [--table PATTERN ...] [--json] [--repair]
                                            compare every selected table of the target with the source while sluice runs;
                                            exit 0 when equal, 1 when rows differ (named), 2 when it could not verify;
                                            --repair copies the differing rows again through the running sluice (http.admin)
  sluice teardown --config FILE [--yes]     drop the pipeline's slot and publication (PostgreSQL source), its applied
                                            position in the target and its checkpoint; the target tables stay
  sluice health [--config FILE | --url URL] [--ready] [--timeout 3s]
                                            exit 0 when a running sluice answers 200 on /healthz (with --ready: /readyz),
                                            else 1 saying why; at http.listen of FILE, else http://127.0.0.1:9187
  sluice version                            print the version
`)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/metrics"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// probeEvery is how often the source's log position and the target's
// reachability are checked: at most one short query on a connection of its
// own per interval, never on the replication connection.
const probeEvery = 5 * time.Second

// probeQuiet is the probe interval without http.listen.
const probeQuiet = 30 * time.Second

// probeTimeout bounds one probe.
const probeTimeout = 4 * time.Second

// probe checks the source's log (lag in bytes, slot) and whether the target
// accepts connections, now and every interval until ctx ends. It keeps a
// log reader of its own (opened when the source is reachable), so it goes on
// while the pipeline restarts after a failure; each look at the log is a
// short query on a connection of its own.
func probe(ctx context.Context, cfg *config.Config, m *metrics.Metrics, secrets []string, every time.Duration, log zerolog.Logger) {
	var lr pipeline.LogReporter
	defer func() {
		if c, ok := lr.(interface{ Close() error }); ok {
			c.Close()
		}
	}()
	var watch metrics.LogWatch
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		if lr == nil {
			if src, err := openLogReader(pctx, connector.Env{Config: cfg, Log: zerolog.Nop()}); err == nil {
				if lr, _ = src.(pipeline.LogReporter); lr == nil {
					src.Close()
				}
			} else {
				m.SetLogStatus(pipeline.LogStatus{BehindBytes: -1, RetainedBytes: -1}, redactErr(err, secrets))
			}
		}
		if lr != nil {
			ls, err := lr.LogStatus(pctx, m.Applied())
			if ctx.Err() != nil {
				cancel()
				return
			}
			m.SetLogStatus(ls, redactErr(err, secrets))
			if err == nil {
				watch.See(log, ls)
			}
		}
		err := pingSink(pctx, cfg)
		cancel()
		if ctx.Err() != nil {
			return
		}
		m.SetSinkProbe(redactErr(err, secrets))
		t.Reset(every)
	}
}

// redactErr hides secrets in an error's text.
func redactErr(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := redactString(err.Error(), secrets)
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// localURL turns a listen address into a URL for this machine: an
// unspecified host (":9187", "0.0.0.0:9187", "[::]:9187") is reached on
// the loopback address.
func localURL(listen, path string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen + path
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("http://%s:%s%s", host, port, path)
}

package webhook

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/jsonl"
)

// Settings are the keys under sink.webhook.
type Settings struct {
	URL     string
	Secret  string   // signs each body (X-Sluice-Signature); never logged
	Headers []string // "Name: value", added to each request; values never logged
	Timeout time.Duration
	// MaxRetries is how often a request is retried after a 5xx, 408, 429,
	// a timeout or a connection error; MaxBackoff caps the wait between.
	MaxRetries int           `mapstructure:"max_retries"`
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// MaxBatchRows and MaxBatchBytes bound one request.
	MaxBatchRows  int   `mapstructure:"max_batch_rows"`
	MaxBatchBytes int64 `mapstructure:"max_batch_bytes"`

	TopicPrefix         string `mapstructure:"topic_prefix"`
	Schemas             bool
	Tombstones          bool
	TransactionMetadata bool   `mapstructure:"transaction_metadata"`
	DecimalHandling     string `mapstructure:"decimal_handling"`
}

// Events are the envelope settings.
func (s *Settings) Events() jsonl.Events {
	return jsonl.Events{TopicPrefix: s.TopicPrefix, Schemas: s.Schemas, Tombstones: s.Tombstones,
		TransactionMetadata: s.TransactionMetadata, DecimalHandling: s.DecimalHandling}
}

func settings(c *config.Config) *Settings {
	s, _ := c.Settings("sink").(*Settings)
	if s == nil {
		s = &Settings{}
	}
	return s
}

// Connector is the webhook sink kind.
var Connector = connector.Sink{
	Kind: config.Kind{
		Name:     "webhook",
		Settings: (*Settings)(nil),
		Defaults: map[string]any{"timeout": 10 * time.Second, "max_retries": 5, "max_backoff": 30 * time.Second,
			"max_batch_rows": 1000, "max_batch_bytes": int64(1 << 20), "decimal_handling": "precise"},
		Examples: map[string]string{"url": "https://hooks.example.com/sluice", "headers": `["Authorization: Bearer ${HOOK_TOKEN}"]`,
			"timeout": "10s", "max_retries": "5", "max_backoff": "30s", "max_batch_rows": "1000", "max_batch_bytes": "1MiB"},
		Validate: validate,
	},
	Open: func(ctx context.Context, e connector.Env) (pipeline.Sink, error) {
		return New(settings(e.Config), e)
	},
	Check: func(ctx context.Context, e connector.Env) []string {
		c, err := newClient(settings(e.Config), e.Version)
		if err != nil {
			return []string{err.Error()}
		}
		if err := c.probe(ctx); err != nil {
			return []string{fmt.Sprintf("sink.webhook.url: cannot be reached: %v (any HTTP response would do)", err)}
		}
		return nil
	},
	Ping: func(ctx context.Context, e connector.Env) error {
		c, err := newClient(settings(e.Config), e.Version)
		if err != nil {
			return err
		}
		defer c.http.CloseIdleConnections()
		return c.probe(ctx)
	},
}

// New makes a webhook sink for the pipeline e describes.
func New(s *Settings, e connector.Env) (*Sink, error) {
	ev := s.Events()
	enc, err := ev.Encoder(e.Config, e.Version)
	if err != nil {
		return nil, err
	}
	c, err := newClient(s, e.Version)
	if err != nil {
		return nil, err
	}
	sk := &Sink{Metrics: jsonl.NewMetrics("webhook"), c: c, enc: enc, pipeline: e.Config.Name,
		maxRows: max(s.MaxBatchRows, 1), maxBytes: int(max(s.MaxBatchBytes, 1)), log: e.Log}
	c.retried = func(err error) {
		sk.Retries.Inc()
		sk.log.Warn().Err(err).Msg("webhook request failed; retrying")
	}
	return sk, nil
}

func validate(c *config.Config, raw any, v config.Validator) {
	s, _ := raw.(*Settings)
	if s == nil {
		s = &Settings{}
	}
	if k := v.At("sink.webhook.url"); k != "" {
		u, err := url.Parse(s.URL)
		switch {
		case s.URL == "":
			v.Addf("%s: required (e.g. https://hooks.example.com/sluice)", k)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.Addf("%s: %s is not an http:// or https:// URL with a host (e.g. https://hooks.example.com/sluice)", k, redact(s.URL))
		}
	}
	if k := v.At("sink.webhook.headers"); k != "" {
		if _, err := parseHeaders(s.Headers); err != nil {
			v.Addf("%v", err)
		}
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{{"timeout", s.Timeout}, {"max_backoff", s.MaxBackoff}} {
		if k := v.At("sink.webhook." + d.key); k != "" && d.val <= 0 {
			v.Addf("%s: must be a positive duration such as 10s", k)
		}
	}
	if k := v.At("sink.webhook.max_retries"); k != "" && s.MaxRetries < 0 {
		v.Addf("%s: must be 0 (no retry) or more", k)
	}
	if k := v.At("sink.webhook.max_batch_rows"); k != "" && s.MaxBatchRows < 1 {
		v.Addf("%s: must be at least 1 (e.g. 1000)", k)
	}
	if k := v.At("sink.webhook.max_batch_bytes"); k != "" && s.MaxBatchBytes < 1024 {
		v.Addf("%s: must be at least 1KiB (e.g. 1MiB)", k)
	}
	ev := s.Events()
	ev.Validate(c, "sink.webhook", v)
}

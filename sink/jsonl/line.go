package jsonl

import (
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// Events are the envelope settings the stream sinks without topics of
// their own (jsonl, webhook) share; each kind repeats them among its own
// keys (the config schema has no embedding) and converts.
type Events struct {
	// TopicPrefix is Debezium's topic.prefix: source.name and the start of
	// every topic; default: the pipeline's name.
	TopicPrefix string `mapstructure:"topic_prefix"`
	// Schemas wraps keys and values as {"schema":...,"payload":...}.
	Schemas bool
	// Tombstones writes the null-value event that follows each delete.
	Tombstones bool
	// TransactionMetadata adds the transaction block and BEGIN/END events.
	TransactionMetadata bool `mapstructure:"transaction_metadata"`
	// DecimalHandling is precise (default), string or double.
	DecimalHandling string `mapstructure:"decimal_handling"`
}

// Validate checks the settings under section (e.g. "sink.jsonl").
func (ev *Events) Validate(c *config.Config, section string, v config.Validator) {
	if k := v.At(section + ".topic_prefix"); k != "" && ev.TopicPrefix != "" {
		for i := 0; i < len(ev.TopicPrefix); i++ {
			if b := ev.TopicPrefix[i]; !(b == '.' || b == '_' || b == '-' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') {
				v.Addf("%s: %q: use only letters, digits, '.', '_' and '-' (e.g. crm)", k, ev.TopicPrefix)
				break
			}
		}
	}
	if k := v.At(section + ".decimal_handling"); k != "" {
		if _, err := envelope.ParseDecimalMode(ev.DecimalHandling); err != nil {
			v.Addf("%s: %q must be precise, string or double", k, ev.DecimalHandling)
		}
	}
}

// Encoder makes the envelope encoder these settings describe for the
// pipeline c, writing version as source.version.
func (ev *Events) Encoder(c *config.Config, version string) (*envelope.Encoder, error) {
	dec, err := envelope.ParseDecimalMode(ev.DecimalHandling)
	if err != nil {
		return nil, err
	}
	prefix := ev.TopicPrefix
	if prefix == "" {
		prefix = c.Name
	}
	if version == "" {
		version = "dev"
	}
	return envelope.New(envelope.Options{Prefix: prefix, Version: version, Database: SourceDatabase(c),
		Schemas: ev.Schemas, OmitTombstones: !ev.Tombstones, TransactionMetadata: ev.TransactionMetadata, Decimal: dec})
}

// SourceDatabase is the PostgreSQL database the source reads (Debezium's
// source.db); "" for other sources, whose tables carry their database.
func SourceDatabase(c *config.Config) string {
	if c.Source.Kind != "postgres" {
		return ""
	}
	pc, err := pgconn.ParseConfig(c.Source.DSN)
	if err != nil || pc.Database == "" {
		return c.Name // never quote a DSN; the source reports it when it connects
	}
	return pc.Database
}

// Line appends one record as a JSON object, without a newline:
// {"topic":...,"key":...,"value":...[,"headers":{...}]}. Key and value are
// the envelope's JSON (null when absent); header values are JSON too.
func Line(dst []byte, enc *envelope.Encoder, r envelope.Record) []byte {
	dst = append(dst, `{"topic":`...)
	dst = strconv.AppendQuote(dst, enc.Topic(r)) // topic names are ASCII letters, digits, . _ -
	dst = append(dst, `,"key":`...)
	dst = appendRaw(dst, r.Key)
	dst = append(dst, `,"value":`...)
	dst = appendRaw(dst, r.Value)
	if len(r.Headers) > 0 {
		dst = append(dst, `,"headers":{`...)
		for i, h := range r.Headers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendQuote(dst, h.Key) // Debezium's header names are ASCII
			dst = append(dst, ':')
			dst = appendRaw(dst, h.Value)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendRaw(dst, raw []byte) []byte {
	if raw == nil {
		return append(dst, "null"...)
	}
	return append(dst, raw...)
}

// Records encodes one transaction's changes, in order, with its END event
// when transaction metadata is on, calling fn for each record.
func Records(enc *envelope.Encoder, txn *change.Txn, fn func(envelope.Record) error) error {
	tx := enc.Begin(envelope.InfoOf(txn))
	var recs []envelope.Record
	err := txn.Each(func(c *change.Change) error {
		var err error
		if recs, err = tx.Change(recs[:0], c); err != nil {
			return fmt.Errorf("encode %s change: %w", c.Table.ID, err)
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range tx.End(recs[:0]) {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

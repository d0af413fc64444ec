package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Timeouts. A record not acknowledged within deliveryTimeout fails the
// flush (the broker is down): the pipeline then retries from its position
// instead of hanging. The transaction timeout bounds how long a crashed
// process's open transaction blocks read_committed consumers when no
// successor fences it sooner, and how long one source transaction may take
// to publish (the broker aborts a Kafka transaction older than that).
const (
	deliveryTimeout = 10 * time.Second
	txnTimeout      = 5 * time.Minute
	dialTimeout     = 10 * time.Second
	maxBuffered     = 20_000 // records a producer holds before Apply waits for the broker
)

// TransactionalID is the transactional id of a pipeline's producer.
func TransactionalID(pipeline string) string { return "sluice-" + pipeline }

// connOpts are the options every client of the sink uses: brokers,
// authentication, encryption.
func connOpts(s *Settings) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.Brokers...),
		kgo.DialTimeout(dialTimeout),
		kgo.RetryTimeout(deliveryTimeout),
		kgo.MetadataMinAge(time.Second),
	}
	if s.TLS.on() {
		cfg, err := tlsConfig(s.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch strings.ToUpper(s.SASL.Mechanism) {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: s.SASL.User, Pass: s.SASL.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.SASL.User, Pass: s.SASL.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.SASL.User, Pass: s.SASL.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("sink.kafka.sasl.mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASL.Mechanism)
	}
	return opts, nil
}

// codecs are the values of sink.kafka.compression. "" (settings made by
// hand, in tests) is the default, snappy: Debezium's JSON (with schemas
// above all) compresses several times, and uncompressed batches cost the
// client memory and the broker CPU (measured with make bench: about twice
// the time, three times the RSS).
var codecs = map[string]kgo.CompressionCodec{
	"": kgo.SnappyCompression(), "none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

// producerOpts are a producer's options: transactional (exactly once) with
// txnID, else idempotent. Records are partitioned by key.
func producerOpts(s *Settings, txnID string) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.RecordPartitioner(keyPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedRecords(maxBuffered + 1),
		kgo.ProducerLinger(5 * time.Millisecond),
	}
	if c, ok := codecs[strings.ToLower(s.Compression)]; ok {
		opts = append(opts, kgo.ProducerBatchCompression(c))
	}
	if txnID != "" {
		opts = append(opts, kgo.TransactionalID(txnID), kgo.TransactionTimeout(txnTimeout))
	}
	return opts
}

// keyPartitioner sends a keyed record where Kafka's default partitioner
// does (murmur2 of the key), so each key's changes stay in one partition,
// in commit order, and Java consumers agree. A record without a key (a
// table without a primary key, a truncate) always goes to partition 0, so
// a keyless table's changes keep their order too.
func keyPartitioner() kgo.Partitioner {
	byKey := kgo.StickyKeyPartitioner(nil)
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		tp := byKey.ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if r.Key == nil {
				return 0
			}
			return tp.Partition(r, n)
		}
	})
}

func tlsConfig(t TLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // the user's choice, documented
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sink.kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sink.kafka.tls.ca_file %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("sink.kafka.tls.cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

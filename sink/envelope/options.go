package envelope

import (
	"crypto/md5"
	"errors"
	"fmt"
	"time"
)

// DecimalMode is Debezium's decimal.handling.mode.
type DecimalMode uint8

const (
	// DecimalPrecise (the default) writes decimals as Connect's Decimal:
	// the unscaled value's big-endian two's complement bytes (base64 in
	// JSON) with the scale as a schema parameter; PostgreSQL numeric
	// without a scale as io.debezium.data.VariableScaleDecimal.
	DecimalPrecise DecimalMode = iota
	// DecimalString writes the exact decimal text ("NAN",
	// "POSITIVE_INFINITY", "NEGATIVE_INFINITY" for PostgreSQL's specials,
	// as Debezium names them).
	DecimalString
	// DecimalDouble writes the nearest double.
	DecimalDouble
)

// ParseDecimalMode reads "precise", "string" or "double" ("" is precise).
func ParseDecimalMode(s string) (DecimalMode, error) {
	switch s {
	case "", "precise":
		return DecimalPrecise, nil
	case "string":
		return DecimalString, nil
	case "double":
		return DecimalDouble, nil
	}
	return 0, fmt.Errorf("envelope: decimal handling %q: want precise, string or double", s)
}

func (m DecimalMode) String() string {
	switch m {
	case DecimalString:
		return "string"
	case DecimalDouble:
		return "double"
	}
	return "precise"
}

// BigintUnsignedMode is Debezium's bigint.unsigned.handling.mode (MySQL).
type BigintUnsignedMode uint8

const (
	// BigintLong (Debezium's default) writes bigint unsigned as an int64:
	// values above 2^63-1 come out negative, with the same 64 bits (read
	// them back as unsigned).
	BigintLong BigintUnsignedMode = iota
	// BigintPrecise writes bigint unsigned as a Decimal of scale 0.
	BigintPrecise
)

// DefaultUnavailableValue is Debezium's unavailable.value.placeholder: what
// stands for a value PostgreSQL did not send (unchanged TOAST).
const DefaultUnavailableValue = "__debezium_unavailable_value"

// Options configure an Encoder. The zero value of each field is
// Debezium's default, except Prefix and Version, which are required.
type Options struct {
	// Prefix is Debezium's topic.prefix: the logical name of the source,
	// written as source.name and starting every schema name and default
	// topic. Letters, digits, '.', '_' and '-'.
	Prefix string
	// Version is written as source.version (Sluice's version).
	Version string
	// Database is source.db for PostgreSQL tables (the change record does
	// not carry it). Required to encode PostgreSQL changes. MySQL tables
	// use their own database (TableID.Schema).
	Database string
	// Schemas wraps keys and values as {"schema":...,"payload":...}, as
	// JsonConverter with schemas.enable=true writes them.
	Schemas bool
	// OmitTombstones leaves out the tombstone (same key, null value) that
	// follows every delete (Debezium: tombstones.on.delete=false).
	OmitTombstones bool
	// TransactionMetadata adds the transaction block to every change event
	// and produces BEGIN and END events (provide.transaction.metadata).
	TransactionMetadata bool
	// Decimal is decimal.handling.mode.
	Decimal DecimalMode
	// BigintUnsigned is bigint.unsigned.handling.mode.
	BigintUnsigned BigintUnsignedMode
	// MoneyFractionDigits is money.fraction.digits: the scale of PostgreSQL
	// money values. 0 means Debezium's default, 2.
	MoneyFractionDigits int
	// UnavailableValue replaces DefaultUnavailableValue when set.
	UnavailableValue string
	// Now gives the envelope's ts_ms / ts_us / ts_ns (when the event was
	// made). Nil means time.Now.
	Now func() time.Time
}

func (o *Options) check() error {
	if o.Prefix == "" {
		return errors.New("envelope: Options.Prefix (the topic prefix) is required")
	}
	for i := 0; i < len(o.Prefix); i++ {
		if !validTopicChar(o.Prefix[i]) {
			return fmt.Errorf("envelope: Options.Prefix %q: use only letters, digits, '.', '_' and '-'", o.Prefix)
		}
	}
	if o.Version == "" {
		return errors.New("envelope: Options.Version (written as source.version) is required")
	}
	if o.Decimal > DecimalDouble {
		return fmt.Errorf("envelope: Options.Decimal %d is not a decimal mode", o.Decimal)
	}
	if o.BigintUnsigned > BigintPrecise {
		return fmt.Errorf("envelope: Options.BigintUnsigned %d is not a mode", o.BigintUnsigned)
	}
	if o.MoneyFractionDigits < 0 || o.MoneyFractionDigits > 100 {
		return fmt.Errorf("envelope: Options.MoneyFractionDigits %d: want 0 to 100", o.MoneyFractionDigits)
	}
	if o.MoneyFractionDigits == 0 {
		o.MoneyFractionDigits = 2
	}
	if o.UnavailableValue == "" {
		o.UnavailableValue = DefaultUnavailableValue
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// nameUUID is Java's UUID.nameUUIDFromBytes: an MD5 (version 3) UUID.
func nameUUID(s string) string {
	h := md5.Sum([]byte(s))
	h[6] = h[6]&0x0f | 0x30
	h[8] = h[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	var b []byte
	for i, c := range h {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexd[c>>4], hexd[c&15])
	}
	return string(b)
}

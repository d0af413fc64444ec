package kafka

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// connectSchema is a Kafka Connect schema as JsonConverter writes it.
type connectSchema struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name"`
	Field      string            `json:"field"`
	Parameters map[string]string `json:"parameters"`
	Fields     []connectSchema   `json:"fields"`
	Items      *connectSchema    `json:"items"`
}

// field returns the named field of a struct schema, or nil.
func (s *connectSchema) field(name string) *connectSchema {
	for i := range s.Fields {
		if s.Fields[i].Field == name {
			return &s.Fields[i]
		}
	}
	return nil
}

func (s *connectSchema) param(name string, def int) int {
	if v, ok := s.Parameters[name]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// Semantic names of the Connect and Debezium logical types.
const (
	nDecimal         = "org.apache.kafka.connect.data.Decimal"
	nConnectDate     = "org.apache.kafka.connect.data.Date"
	nConnectTime     = "org.apache.kafka.connect.data.Time"
	nConnectTS       = "org.apache.kafka.connect.data.Timestamp"
	nVarDecimal      = "io.debezium.data.VariableScaleDecimal"
	nDate            = "io.debezium.time.Date"
	nTime            = "io.debezium.time.Time"
	nMicroTime       = "io.debezium.time.MicroTime"
	nNanoTime        = "io.debezium.time.NanoTime"
	nTimestamp       = "io.debezium.time.Timestamp"
	nMicroTimestamp  = "io.debezium.time.MicroTimestamp"
	nNanoTimestamp   = "io.debezium.time.NanoTimestamp"
	nZonedTimestamp  = "io.debezium.time.ZonedTimestamp"
	nZonedTime       = "io.debezium.time.ZonedTime"
	nMicroDuration   = "io.debezium.time.MicroDuration"
	nYear            = "io.debezium.time.Year"
	nJSON            = "io.debezium.data.Json"
	nUUID            = "io.debezium.data.Uuid"
	nXML             = "io.debezium.data.Xml"
	nEnum            = "io.debezium.data.Enum"
	nEnumSet         = "io.debezium.data.EnumSet"
	nBits            = "io.debezium.data.Bits"
	nPoint           = "io.debezium.data.geometry.Point"
	nGeometry        = "io.debezium.data.geometry.Geometry"
	decimalPrecision = "connect.decimal.precision"
)

// sqlType is the SQL type, in the dialect's own text, a column of Connect
// schema s is created with and its values are rendered as.
func sqlType(d change.Dialect, s *connectSchema) (string, error) {
	if d == change.MySQL {
		return mysqlType(s)
	}
	return pgType(s)
}

func pgType(s *connectSchema) (string, error) {
	switch s.Name {
	case nDecimal:
		if p := s.param(decimalPrecision, 0); p > 0 {
			return fmt.Sprintf("numeric(%d,%d)", p, s.param("scale", 0)), nil
		}
		return "numeric", nil
	case nVarDecimal:
		return "numeric", nil
	case nDate, nConnectDate:
		return "date", nil
	case nTime, nConnectTime:
		return "time(3) without time zone", nil
	case nMicroTime, nNanoTime:
		return "time(6) without time zone", nil
	case nTimestamp, nConnectTS:
		return "timestamp(3) without time zone", nil
	case nMicroTimestamp, nNanoTimestamp:
		return "timestamp(6) without time zone", nil
	case nZonedTimestamp:
		return "timestamp with time zone", nil
	case nZonedTime:
		return "time with time zone", nil
	case nMicroDuration:
		return "interval", nil
	case nYear:
		return "integer", nil
	case nJSON:
		return "jsonb", nil
	case nUUID:
		return "uuid", nil
	case nXML:
		return "xml", nil
	case nEnum, nEnumSet:
		return "text", nil
	case nBits:
		if n := s.param("length", 0); n > 0 && n < 1<<20 {
			return fmt.Sprintf("bit(%d)", n), nil
		}
		return "bit varying", nil
	case nPoint:
		return "point", nil
	}
	switch s.Type {
	case "boolean":
		return "boolean", nil
	case "int8", "int16":
		return "smallint", nil
	case "int32":
		return "integer", nil
	case "int64":
		return "bigint", nil
	case "float", "float32":
		return "real", nil
	case "double", "float64":
		return "double precision", nil
	case "string":
		return "text", nil
	case "bytes":
		return "bytea", nil
	case "array":
		if s.Items == nil {
			return "", fmt.Errorf("array schema without items")
		}
		if s.Items.Type == "array" || s.Items.Type == "struct" && s.Items.Name != nVarDecimal {
			return "", fmt.Errorf("arrays of %s are not supported", s.Items.Type)
		}
		t, err := pgType(s.Items)
		if err != nil {
			return "", err
		}
		return t + "[]", nil
	}
	return "", fmt.Errorf("Connect type %q (%s) is not supported", s.Type, s.Name)
}

func mysqlType(s *connectSchema) (string, error) {
	switch s.Name {
	case nDecimal:
		p := s.param(decimalPrecision, 65)
		return fmt.Sprintf("decimal(%d,%d)", p, s.param("scale", 0)), nil
	case nVarDecimal:
		return "decimal(65,30)", nil
	case nDate, nConnectDate:
		return "date", nil
	case nTime, nConnectTime:
		return "time(3)", nil
	case nMicroTime, nNanoTime:
		return "time(6)", nil
	case nTimestamp, nConnectTS:
		return "datetime(3)", nil
	case nMicroTimestamp, nNanoTimestamp:
		return "datetime(6)", nil
	case nZonedTimestamp:
		return "timestamp(6)", nil
	case nZonedTime:
		return "time(6)", nil
	case nMicroDuration:
		return "bigint", nil
	case nYear:
		return "year", nil
	case nJSON:
		return "json", nil
	case nUUID:
		return "char(36)", nil
	case nEnum, nEnumSet, nXML:
		return "longtext", nil
	case nBits:
		n := s.param("length", 64)
		if n < 1 || n > 64 {
			n = 64
		}
		return fmt.Sprintf("bit(%d)", n), nil
	}
	switch s.Type {
	case "boolean":
		return "bit(1)", nil
	case "int8":
		return "tinyint", nil
	case "int16":
		return "smallint", nil
	case "int32":
		return "int", nil
	case "int64":
		return "bigint", nil
	case "float", "float32":
		return "float", nil
	case "double", "float64":
		return "double", nil
	case "string":
		return "longtext", nil
	case "bytes":
		return "longblob", nil
	}
	return "", fmt.Errorf("Connect type %q (%s) is not supported", s.Type, s.Name)
}

// parseSchema reads a Connect schema.
func parseSchema(raw json.RawMessage) (*connectSchema, error) {
	var s connectSchema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("read the Connect schema: %w", err)
	}
	return &s, nil
}

// tableOf makes the table of a value schema's row struct (the before or
// after field), with keys named by key.
func tableOf(id change.TableID, d change.Dialect, row *connectSchema, key []string) (*change.Table, []*connectSchema, error) {
	if row.Type != "struct" {
		return nil, nil, fmt.Errorf("the row schema is %q, want struct", row.Type)
	}
	t := &change.Table{ID: id, Dialect: d, Identity: change.IdentityKey}
	cols := make([]*connectSchema, len(row.Fields))
	for i := range row.Fields {
		f := &row.Fields[i]
		typ, err := sqlType(d, f)
		if err != nil {
			return nil, nil, fmt.Errorf("column %s: %w", f.Field, err)
		}
		c := change.Column{Name: f.Field, Type: typ, NotNull: !f.Optional}
		if f.Name == nEnum && d == change.MySQL {
			if allowed := f.Parameters["allowed"]; allowed != "" {
				c.Enum = strings.Split(allowed, ",")
				c.Type = "enum(" + quoteLabels(c.Enum) + ")"
			}
		}
		t.Columns = append(t.Columns, c)
		cols[i] = f
	}
	if err := setKey(t, key); err != nil {
		return nil, nil, err
	}
	return t, cols, nil
}

func quoteLabels(labels []string) string {
	q := make([]string, len(labels))
	for i, l := range labels {
		q[i] = "'" + strings.ReplaceAll(l, "'", "''") + "'"
	}
	return strings.Join(q, ",")
}

func setKey(t *change.Table, key []string) error {
	t.Key = t.Key[:0]
	for _, k := range key {
		i := t.ColumnIndex(k)
		if i < 0 {
			return fmt.Errorf("key column %s is not a column of the row", k)
		}
		t.Key = append(t.Key, i)
	}
	if len(t.Key) == 0 {
		t.Key = nil
		t.Identity = change.IdentityFull
	}
	return nil
}

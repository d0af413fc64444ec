package envelope

import (
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// maxTopicLen is Kafka's (and Debezium's) longest topic name.
const maxTopicLen = 249

func validTopicChar(c byte) bool {
	return c == '.' || c == '_' || c == '-' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// sanitizeTopic replaces what Kafka does not allow in a topic name with '_'
// and cuts it to 249 bytes, as Debezium's topic naming does.
func sanitizeTopic(s string) string {
	ok := len(s) <= maxTopicLen && s != "." && s != ".."
	for i := 0; ok && i < len(s); i++ {
		ok = validTopicChar(s[i])
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && validTopicChar(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_') // one per character, as Debezium (a char, not a UTF-16 pair, but close enough for names)
		}
	}
	out := b.String()
	if len(out) > maxTopicLen {
		out = out[:maxTopicLen]
	}
	if out == "." || out == ".." {
		out = strings.Repeat("_", len(out))
	}
	return out
}

// Topic is Debezium's default topic of a table: <prefix>.<schema>.<table>
// (MySQL: <prefix>.<database>.<table>), sanitized as Debezium does. It is
// also the start of the table's schema names (<topic>.Key, .Value,
// .Envelope), whatever topic a sink writes to.
func Topic(prefix string, t change.TableID) string {
	return sanitizeTopic(prefix + "." + t.Schema + "." + t.Name)
}

// TransactionTopic is Debezium's topic of transaction metadata events.
func TransactionTopic(prefix string) string { return sanitizeTopic(prefix + ".transaction") }

// Topic is the Debezium default topic of a record this encoder made.
func (e *Encoder) Topic(r Record) string {
	if r.Transaction {
		return TransactionTopic(e.opts.Prefix)
	}
	return Topic(e.opts.Prefix, r.Table)
}

// TopicTemplate names topics from a template such as "cdc.{schema}.{table}"
// with the placeholders {prefix}, {schema}, {database} (the same as
// {schema}: the PostgreSQL schema, the MySQL database) and {table}. The
// result is sanitized as Debezium sanitizes topic names.
type TopicTemplate struct {
	parts []string // literal, placeholder, literal, ...
}

// DefaultTopicTemplate is Debezium's naming.
const DefaultTopicTemplate = "{prefix}.{schema}.{table}"

// ParseTopicTemplate checks a template: placeholders must be known and
// braces balanced.
func ParseTopicTemplate(s string) (TopicTemplate, error) {
	var t TopicTemplate
	rest := s
	for {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, rest)
			break
		}
		if rest[i] == '}' {
			return TopicTemplate{}, fmt.Errorf("envelope: topic template %q: unmatched }", s)
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return TopicTemplate{}, fmt.Errorf("envelope: topic template %q: unclosed {", s)
		}
		name := rest[i+1 : i+j]
		switch name {
		case "prefix", "schema", "database", "table":
		default:
			return TopicTemplate{}, fmt.Errorf("envelope: topic template %q: unknown placeholder {%s}; use {prefix}, {schema}, {database} or {table}", s, name)
		}
		t.parts = append(t.parts, rest[:i], name)
		rest = rest[i+j+1:]
	}
	if !strings.Contains(s, "{table}") {
		return TopicTemplate{}, fmt.Errorf("envelope: topic template %q: needs {table}, or every table shares one topic", s)
	}
	return t, nil
}

// Topic renders the template for a table.
func (t TopicTemplate) Topic(prefix string, id change.TableID) string {
	var b strings.Builder
	for i, p := range t.parts {
		if i%2 == 0 {
			b.WriteString(p)
			continue
		}
		switch p {
		case "prefix":
			b.WriteString(prefix)
		case "schema", "database":
			b.WriteString(id.Schema)
		case "table":
			b.WriteString(id.Name)
		}
	}
	return sanitizeTopic(b.String())
}

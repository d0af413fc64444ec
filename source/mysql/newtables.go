package mysql

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// New tables. The binlog stream decodes the rows of every table that
// matches source.tables, by name, whenever it appears, so the changes of
// a table created while Sluice streams flow as they are. What the binlog
// does not hold are rows the table had before it matched: a table renamed
// into the selection (RENAME TABLE, ALTER TABLE ... RENAME). So when the
// stream reads a DDL statement that makes a selected table appear (CREATE
// TABLE, including CREATE TABLE ... SELECT; RENAME into the selection), it
// asks for the table's back-fill and waits until the pipeline has recorded
// it in its checkpoint before it reads on. The statement itself delivers
// nothing, so the checkpoint cannot pass it before the request is
// recorded: a crash before that reads the statement again and asks again.
// The back-fill is then an ordinary one (backfill.go): its chunks' rows
// and the stream's changes of the table meet at the chunk positions.

var _ pipeline.TableWatcher = (*Source)(nil)

// WatchTables makes the stream back-fill tables that appear in the
// selection while it runs. Call before Start.
func (s *Source) WatchTables(request func(ctx context.Context, bs []checkpoint.Backfill) error) {
	s.request = request
}

// appeared asks for the back-fill of the tables a DDL statement made
// appear, and returns once it is recorded (or ctx ends).
func (st *stream) appeared(ctx context.Context, ids []change.TableID) error {
	s := st.s
	if s.request == nil {
		return nil
	}
	var bs []checkpoint.Backfill
	for _, id := range ids {
		if !s.selected(id.Schema, id.Name) || s.bf.Has(id.String()) {
			continue
		}
		// As it is now: dropped or reshaped since the statement (the
		// stream may be reading old binlog) is the back-fill's to find.
		if ts, _, err := s.describeTables(ctx, s.db, []change.TableID{id}); err == nil && !ts[0].HasKey() {
			s.opts.Log.Warn().Stringer("table", id).Msg("new table in the selection has no primary key: its changes stream, " +
				"but rows it had before it was renamed into the selection are not copied (a back-fill needs a key); " +
				"add a primary key and run `sluice snapshot --table` to copy them")
			continue
		}
		bs = append(bs, checkpoint.Backfill{Table: id.String()})
	}
	if len(bs) == 0 {
		return nil
	}
	for _, b := range bs {
		s.opts.Log.Info().Str("table", b.Table).Msg("new table in the selection: back-filling it")
	}
	logged := time.Now()
	for {
		err := s.request(ctx, bs)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !errors.Is(err, pipeline.ErrNotStreaming) {
			return err
		}
		// The pipeline is starting (or retrying): the request waits,
		// and so does the stream behind the statement.
		if time.Since(logged) > 30*time.Second {
			logged = time.Now()
			s.opts.Log.Info().Err(err).Msg("waiting to record the back-fill of a new table")
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// alterRename finds "RENAME [TO|AS] name" in an ALTER TABLE statement
// (not RENAME COLUMN, INDEX or KEY).
var alterRename = regexp.MustCompile("(?i)\\bRENAME\\s+(?:(?:TO|AS)\\s+)?((?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)(?:\\s*\\.\\s*(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+))?)")

// appearingTables lists the tables a DDL statement creates or renames
// into place; schema is the statement's default database.
func appearingTables(q, schema string) []change.TableID {
	l := &lexer{s: q}
	switch l.word() {
	case "CREATE":
		l.optWords("OR", "REPLACE")
		if w := l.word(); w == "TEMPORARY" || w != "TABLE" {
			return nil // temporary tables are never in the binlog's rows
		}
		l.optWords("IF", "NOT", "EXISTS")
		if id, ok := qualifiedName(l, schema); ok {
			return []change.TableID{id}
		}
	case "RENAME":
		if w := l.word(); w != "TABLE" && w != "TABLES" {
			return nil
		}
		var out []change.TableID
		for {
			if _, ok := qualifiedName(l, schema); !ok {
				return out
			}
			save := l.i
			switch l.word() { // MariaDB: RENAME TABLE t [WAIT n | NOWAIT] TO ...
			case "WAIT":
				l.skip()
				for l.i < len(l.s) && l.s[l.i] >= '0' && l.s[l.i] <= '9' {
					l.i++
				}
			case "NOWAIT":
			default:
				l.i = save
			}
			if l.word() != "TO" {
				return out
			}
			id, ok := qualifiedName(l, schema)
			if !ok {
				return out
			}
			out = append(out, id)
			l.skip()
			if l.i >= len(l.s) || l.s[l.i] != ',' {
				return out
			}
			l.i++
		}
	case "ALTER":
		for {
			w := l.word()
			if w == "TABLE" {
				break
			}
			if w == "" {
				return nil
			}
		}
		if _, ok := qualifiedName(l, schema); !ok {
			return nil
		}
		for _, m := range alterRename.FindAllStringSubmatch(l.s[l.i:], -1) {
			switch strings.ToUpper(m[1]) {
			case "COLUMN", "INDEX", "KEY":
				continue
			}
			if id, ok := qualifiedName(&lexer{s: m[1]}, schema); ok {
				return []change.TableID{id}
			}
		}
	}
	return nil
}

// qualifiedName reads [schema.]name.
func qualifiedName(l *lexer, schema string) (change.TableID, bool) {
	name, ok := l.ident()
	if !ok {
		return change.TableID{}, false
	}
	l.skip()
	if l.i < len(l.s) && l.s[l.i] == '.' {
		l.i++
		t, ok := l.ident()
		if !ok {
			return change.TableID{}, false
		}
		return change.TableID{Schema: name, Name: t}, true
	}
	if schema == "" {
		return change.TableID{}, false
	}
	return change.TableID{Schema: schema, Name: name}, true
}

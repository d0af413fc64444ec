package mysql

import (
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// alterRenames is what parseAlterRenames reads from an ALTER TABLE.
type alterRenames struct {
	schema, table string // schema "" when the name is not qualified
	renames       []change.ColumnRename
}

// parseAlterRenames reads the column renames of
//
//	ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] [db.]t spec [, spec ...]
//
// where a spec is RENAME COLUMN a TO b, or CHANGE [COLUMN] [IF EXISTS] a b
// <definition> (a rename when the names differ); other specs are skipped
// (parentheses, quotes and comments respected). ok is false when the
// statement is not such an ALTER TABLE, or holds something that changes
// what the names mean and is not read here (a table rename, a spec it
// cannot delimit): the caller then keeps its old behaviour.
func parseAlterRenames(q string) (a alterRenames, ok bool) {
	l := &lexer{s: q}
	if l.word() != "ALTER" {
		return a, false
	}
	if strings.Contains(q, "/*!") || strings.Contains(q, "/*M!") {
		return a, false // executable comments: the server runs what the lexer skips
	}
	for {
		save := l.i
		w := l.word()
		if w == "ONLINE" || w == "IGNORE" {
			continue
		}
		if w != "TABLE" {
			l.i = save
			return a, false
		}
		break
	}
	l.optWords("IF", "EXISTS")
	name, ok := l.ident()
	if !ok {
		return a, false
	}
	a.table = name
	if l.peekByte('.') {
		l.i++
		a.schema = name
		if a.table, ok = l.ident(); !ok {
			return a, false
		}
	}
	seen := 0 // RENAME and CHANGE specs read
	for {
		l.skip()
		if l.i >= len(l.s) {
			// Every RENAME and CHANGE word must be a spec read here, so
			// that none hides inside one skipped.
			return a, seen == countKeywords(q, "RENAME", "CHANGE")
		}
		save := l.i
		switch l.word() {
		case "WAIT": // MariaDB: WAIT n | NOWAIT before the specs
			if _, ok := l.ident(); !ok {
				return a, false
			}
			continue
		case "NOWAIT":
			continue
		case "RENAME":
			seen++
			save2 := l.i
			switch l.word() {
			case "COLUMN":
				l.optWords("IF", "EXISTS")
				from, ok1 := l.ident()
				if !ok1 || l.word() != "TO" {
					return a, false
				}
				to, ok2 := l.ident()
				if !ok2 {
					return a, false
				}
				a.renames = append(a.renames, change.ColumnRename{From: from, To: to})
			case "INDEX", "KEY":
			default:
				l.i = save2
				return a, false // RENAME [TO|AS] t2: a table rename
			}
		case "CHANGE":
			seen++
			l.optWords("COLUMN")
			l.optWords("IF", "EXISTS")
			from, ok1 := l.ident()
			to, ok2 := l.ident()
			if !ok1 || !ok2 {
				return a, false
			}
			if from != to {
				a.renames = append(a.renames, change.ColumnRename{From: from, To: to})
			}
		case "":
			l.i = save
		}
		if !l.skipSpec() {
			return a, false
		}
	}
}

// optWords consumes the keywords ws if they come next, all of them.
func (l *lexer) optWords(ws ...string) {
	save := l.i
	for _, w := range ws {
		if l.word() != w {
			l.i = save
			return
		}
	}
}

// peekByte tells whether the next character (after spaces and comments)
// is c.
func (l *lexer) peekByte(c byte) bool {
	l.skip()
	return l.i < len(l.s) && l.s[l.i] == c
}

// skipSpec moves past the rest of an ALTER spec and its comma. false when
// the text is malformed (an unclosed quote or parenthesis).
func (l *lexer) skipSpec() bool {
	depth := 0
	for l.i < len(l.s) {
		l.skip()
		if l.i >= len(l.s) {
			break
		}
		switch c := l.s[l.i]; c {
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return false
			}
		case ',':
			if depth == 0 {
				l.i++
				return true
			}
		case '\'', '"', '`':
			end := closing(l.s, l.i)
			if end < 0 {
				return false
			}
			l.i = end
		}
		l.i++
	}
	return depth == 0
}

// closing finds the quote that closes the one at s[i] (doubled quotes and,
// in strings, backslash escapes are inside), -1 if none.
func closing(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j++
		case s[j] == q:
			return j
		}
	}
	return -1
}

// countKeywords counts the words of q (outside quotes and comments) that
// are one of kws (upper case).
func countKeywords(q string, kws ...string) int {
	l := &lexer{s: q}
	n := 0
	for {
		l.skip()
		if l.i >= len(l.s) {
			return n
		}
		c := l.s[l.i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			end := closing(l.s, l.i)
			if end < 0 {
				return n
			}
			l.i = end + 1
		case c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_' || c == '$' || c >= 0x80:
			w, _ := l.ident()
			for _, k := range kws {
				if strings.EqualFold(w, k) {
					n++
				}
			}
		default:
			l.i++
		}
	}
}

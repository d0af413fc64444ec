package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Position is where a transaction ends in the source's binary log: the
// binlog file, the offset just after the transaction's commit event, and —
// when the server has GTIDs — the GTID state at that point.
//
// Its text form (what the checkpoint stores) is
//
//	file=<binlog file>;pos=<offset>[;gtid=<GTID set>]
//
// for example
//
//	file=binlog.000003;pos=1234
//	file=binlog.000003;pos=1234;gtid=0-1-57,1-2-9                       (MariaDB: domain-server-seq, one per domain)
//	file=binlog.000003;pos=1234;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57  (MySQL: the executed GTID set)
//
// Streaming resumes from the GTID set when there is one (MariaDB: the
// transactions after it; MySQL: the transactions not in it), else from the
// file and offset.
type Position struct {
	File string // binlog file name, e.g. "binlog.000003"
	Pos  uint32 // offset just after the commit event
	GTID string // normalized GTID set; "" when the server has none
}

func (p Position) String() string {
	s := "file=" + p.File + ";pos=" + strconv.FormatUint(uint64(p.Pos), 10)
	if p.GTID != "" {
		s += ";gtid=" + p.GTID
	}
	return s
}

// Compare orders positions by binlog file sequence number, then offset.
func (p Position) Compare(o change.Position) int {
	var q Position
	switch v := o.(type) {
	case Position:
		q = v
	case *Position:
		q = *v
	default:
		panic(fmt.Sprintf("compare mysql position with %T", o)) // a programming error, never input
	}
	a, _ := fileSeq(p.File)
	b, _ := fileSeq(q.File)
	switch {
	case a != b:
		return cmp(a, b)
	case p.Pos != q.Pos:
		return cmp(p.Pos, q.Pos)
	}
	return strings.Compare(p.File, q.File)
}

func cmp[T uint32 | uint64](a, b T) int {
	if a < b {
		return -1
	}
	return 1
}

// fileSeq is the number after the last dot of a binlog file name.
func fileSeq(name string) (uint64, bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return 0, false
	}
	n, err := strconv.ParseUint(name[i+1:], 10, 64)
	return n, err == nil
}

const positionForm = "want file=<binlog file>;pos=<offset>[;gtid=<GTID set>], e.g. file=binlog.000003;pos=1234;gtid=0-1-57"

// ParsePosition reads a position's text form back.
func ParsePosition(s string) (Position, error) {
	var p Position
	fail := func(why string) (Position, error) {
		return Position{}, fmt.Errorf("parse mysql position %q: %s; %s", s, why, positionForm)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return fail(fmt.Sprintf("%q is not key=value", part))
		}
		if seen[k] {
			return fail("duplicate " + k)
		}
		seen[k] = true
		switch k {
		case "file":
			if _, ok := fileSeq(v); !ok || strings.ContainsAny(v, " \t\r\n/\\") || strings.ContainsRune(v, 0) {
				return fail(fmt.Sprintf("file %q is not a binlog file name (name.NNNNNN)", v))
			}
			p.File = v
		case "pos":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n < 4 {
				return fail(fmt.Sprintf("pos %q is not a binlog offset (4 or more)", v))
			}
			p.Pos = uint32(n)
		case "gtid":
			g, err := normalizeGTID(v)
			if err != nil {
				return fail(err.Error())
			}
			if g == "" {
				return fail("empty gtid (leave the key out instead)")
			}
			p.GTID = g
		default:
			return fail(fmt.Sprintf("unknown key %q", k))
		}
	}
	if p.File == "" || !seen["pos"] {
		return fail("file and pos are required")
	}
	return p, nil
}

// normalizeGTID checks a GTID set's text and returns it in canonical form:
// MariaDB sets (no ':') sorted by domain, MySQL sets as go-mysql prints them.
func normalizeGTID(s string) (string, error) {
	if strings.ContainsRune(s, ':') {
		set, err := parseMySQLGTIDs(s)
		if err != nil {
			return "", err
		}
		return set.String(), nil
	}
	st, err := parseMariaGTIDs(s)
	if err != nil {
		return "", err
	}
	return st.String(), nil
}

// parseMySQLGTIDs parses a MySQL GTID set with go-mysql, turning any panic
// on odd input into an error.
func parseMySQLGTIDs(s string) (set *gomysql.MysqlGTIDSet, err error) {
	defer func() {
		if r := recover(); r != nil {
			set, err = nil, fmt.Errorf("gtid %q is not a MySQL GTID set", s)
		}
	}()
	g, err := gomysql.ParseMysqlGTIDSet(s)
	if err != nil {
		return nil, fmt.Errorf("gtid %q is not a MySQL GTID set (uuid:1-5,...): %v", s, err)
	}
	set, ok := g.(*gomysql.MysqlGTIDSet)
	if !ok {
		return nil, fmt.Errorf("gtid %q is not a MySQL GTID set", s)
	}
	return set, nil
}

// mariaGTID is one MariaDB GTID, domain-server-sequence.
type mariaGTID struct {
	Domain, Server uint32
	Seq            uint64
}

func (g mariaGTID) String() string {
	return strconv.FormatUint(uint64(g.Domain), 10) + "-" + strconv.FormatUint(uint64(g.Server), 10) + "-" + strconv.FormatUint(g.Seq, 10)
}

// mariaGTIDs is a MariaDB GTID position: the last GTID of each domain,
// sorted by domain.
type mariaGTIDs []mariaGTID

func (m mariaGTIDs) String() string {
	parts := make([]string, len(m))
	for i, g := range m {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// set records g as its domain's last GTID.
func (m mariaGTIDs) set(g mariaGTID) mariaGTIDs {
	i, found := slices.BinarySearchFunc(m, g.Domain, func(x mariaGTID, d uint32) int { return cmpU32(x.Domain, d) })
	if found {
		m[i] = g
		return m
	}
	return slices.Insert(m, i, g)
}

func cmpU32(a, b uint32) int {
	if a == b {
		return 0
	}
	return cmp(a, b)
}

var errMariaGTID = errors.New("want domain-server-sequence[,...], e.g. 0-1-57")

// parseMariaGTIDs reads "0-1-57,1-2-9" (empty: no GTIDs).
func parseMariaGTIDs(s string) (mariaGTIDs, error) {
	var out mariaGTIDs
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("gtid %q: %w", s, errMariaGTID)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sv, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("gtid %q: %w", s, errMariaGTID)
		}
		g := mariaGTID{Domain: uint32(d), Server: uint32(sv), Seq: seq}
		if _, dup := slices.BinarySearchFunc(out, g.Domain, func(x mariaGTID, d uint32) int { return cmpU32(x.Domain, d) }); dup {
			return nil, fmt.Errorf("gtid %q: domain %d appears twice", s, g.Domain)
		}
		out = out.set(g)
	}
	return out, nil
}

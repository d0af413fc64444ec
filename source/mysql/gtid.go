package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

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

// compareGTID compares two GTID states: 0 when equal, -1 when b holds
// every transaction of a and more, +1 otherwise (b lacks some of a's, the
// flavors differ, or a text is not a GTID state). MariaDB states compare
// per domain by sequence number, server ids aside: a promoted replica goes
// on numbering a domain under its own server id.
func compareGTID(a, b string) int {
	if a == b {
		return 0
	}
	if strings.ContainsRune(a, ':') || strings.ContainsRune(b, ':') {
		return compareMySQLGTID(a, b)
	}
	ma, err1 := parseMariaGTIDs(a)
	mb, err2 := parseMariaGTIDs(b)
	if err1 != nil || err2 != nil {
		return 1
	}
	equal := len(ma) == len(mb)
	for _, g := range ma {
		h, ok := mb.domain(g.Domain)
		if !ok || h.Seq < g.Seq {
			return 1
		}
		equal = equal && h.Seq == g.Seq
	}
	if equal {
		return 0
	}
	return -1
}

// compareMySQLGTID compares MySQL GTID sets by containment.
func compareMySQLGTID(a, b string) int {
	if !strings.ContainsRune(a, ':') || !strings.ContainsRune(b, ':') {
		return 1 // one is a MariaDB state: another server altogether
	}
	sa, err1 := parseMySQLGTIDs(a)
	sb, err2 := parseMySQLGTIDs(b)
	switch {
	case err1 != nil || err2 != nil || !sb.Contain(sa):
		return 1
	case sa.Contain(sb):
		return 0
	}
	return -1
}

// domain is the last GTID of domain d.
func (m mariaGTIDs) domain(d uint32) (mariaGTID, bool) {
	i, found := slices.BinarySearchFunc(m, d, func(x mariaGTID, d uint32) int { return cmpU32(x.Domain, d) })
	if !found {
		return mariaGTID{}, false
	}
	return m[i], true
}

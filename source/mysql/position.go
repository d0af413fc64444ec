package mysql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Position is where a transaction ends in the source's binary log: the
// binlog file, the offset just after the transaction's commit event, and —
// when the server has GTIDs — the GTID state at that point. Server names
// the server whose binlog File and Pos point into; Epoch counts how often
// Sluice followed that binlog starting over (RESET MASTER) while reading it.
//
// Its text form (what the checkpoint stores) is
//
//	file=<binlog file>;pos=<offset>[;gtid=<GTID set>][;server=<server_id>][;epoch=<n>]
//
// for example
//
//	file=binlog.000003;pos=1234
//	file=binlog.000003;pos=1234;gtid=0-1-57,1-2-9;server=1                       (MariaDB: domain-server-seq, one per domain)
//	file=binlog.000003;pos=1234;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57  (MySQL: the executed GTID set)
//
// Streaming resumes from the GTID set when there is one (MariaDB: the
// transactions after it; MySQL: the transactions not in it), else from the
// file and offset. Server and epoch are left out when unknown or 0
// (positions written before Sluice recorded them).
type Position struct {
	File   string // binlog file name, e.g. "binlog.000003"
	Pos    uint32 // offset just after the commit event
	GTID   string // normalized GTID set; "" when the server has none
	Server uint32 // server_id of the server File and Pos belong to; 0 = unknown
	Epoch  uint32 // how many binlog resets were followed before this position
}

func (p Position) String() string {
	s := "file=" + p.File + ";pos=" + strconv.FormatUint(uint64(p.Pos), 10)
	if p.GTID != "" {
		s += ";gtid=" + p.GTID
	}
	if p.Server != 0 {
		s += ";server=" + strconv.FormatUint(uint64(p.Server), 10)
	}
	if p.Epoch != 0 {
		s += ";epoch=" + strconv.FormatUint(uint64(p.Epoch), 10)
	}
	return s
}

// Binlog returns the parts of the position, for consumers that must not
// import this package (sink/envelope writes them as Debezium's source
// file, pos and server_id). gtidSet is the GTID state after the
// transaction (not the transaction's own GTID), "" without GTIDs.
func (p Position) Binlog() (file string, pos uint32, gtidSet string, serverID uint32) {
	return p.File, p.Pos, p.GTID, p.Server
}

// Compare orders p against o, another position of this source. What the
// pipeline relies on is "p.Compare(o) <= 0": o covers p, every transaction
// up to p is also up to o, so a transaction at p that the target holds up
// to o may be skipped. Positions neither of which covers the other (MariaDB
// domains ahead on both sides, file names of different logs, another kind
// of position, nil) compare +1 both ways: a transaction that is not
// provably covered is applied, never skipped. Compare never panics.
//
// The first difference decides:
//   - Epoch: a position after a followed binlog reset comes after every
//     position before it (the new log's GTIDs and file numbers start over).
//   - GTID, when both positions have one: MariaDB per domain by sequence
//     number (server ids aside, so positions on a promoted replica compare
//     with those on the old primary), MySQL by set containment.
//   - Otherwise binlog file number, then offset, when both name files of
//     the same log (same base name, same server when both are known).
func (p Position) Compare(o change.Position) int {
	var q Position
	switch v := o.(type) {
	case Position:
		q = v
	case *Position:
		if v == nil {
			return 1
		}
		q = *v
	default:
		return 1
	}
	switch {
	case p.Epoch != q.Epoch:
		return cmp(p.Epoch, q.Epoch)
	case p.GTID != "" && q.GTID != "":
		return compareGTID(p.GTID, q.GTID)
	case !sameLog(p, q):
		return 1
	}
	a, _ := fileSeq(p.File)
	b, _ := fileSeq(q.File)
	switch {
	case a != b:
		return cmp(a, b)
	case p.Pos != q.Pos:
		return cmp(p.Pos, q.Pos)
	}
	return 0
}

// sameLog tells whether the files of two positions belong to one binary
// log, so that their numbers and offsets compare.
func sameLog(p, q Position) bool {
	if p.Server != 0 && q.Server != 0 && p.Server != q.Server {
		return false
	}
	return baseName(p.File) == baseName(q.File)
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

// baseName is a binlog file name without its number (log_bin's base name).
func baseName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return name
}

const positionForm = "want file=<binlog file>;pos=<offset>[;gtid=<GTID set>][;server=<server_id>][;epoch=<n>], e.g. file=binlog.000003;pos=1234;gtid=0-1-57;server=1"

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
		case "server", "epoch":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return fail(fmt.Sprintf("%s %q is not a number from 1 to 4294967295 (leave the key out for 0)", k, v))
			}
			if k == "server" {
				p.Server = uint32(n)
			} else {
				p.Epoch = uint32(n)
			}
		default:
			return fail(fmt.Sprintf("unknown key %q", k))
		}
	}
	if p.File == "" || !seen["pos"] {
		return fail("file and pos are required")
	}
	return p, nil
}

package mysql

import (
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

func TestPositionText(t *testing.T) {
	for _, s := range []string{
		"file=binlog.000003;pos=1234",
		"file=binlog.000003;pos=1234;gtid=0-1-57",
		"file=mysql-bin.000010;pos=4;gtid=0-1-57,1-2-9,7-3-18446744073709551615",
		"file=binlog.000001;pos=4294967295;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57",
		"file=binlog.000001;pos=99;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9,4e11fa47-71ca-11e1-9e33-c80aa9429562:1",
		"file=binlog.000003;pos=1234;gtid=0-1-57;server=1;epoch=2",
		"file=binlog.000003;pos=4;server=4294967295",
	} {
		p, err := ParsePosition(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if p.String() != s {
			t.Errorf("%s: round trip gives %s", s, p)
		}
	}
	// MariaDB sets are normalized (sorted by domain).
	if p, err := ParsePosition("pos=10;file=b.000001;gtid=2-1-5,0-1-9"); err != nil || p.String() != "file=b.000001;pos=10;gtid=0-1-9,2-1-5" {
		t.Errorf("normalize: %v %v", p, err)
	}
	for _, bad := range []string{
		"", "file=binlog.000001", "pos=5", "file=binlog;pos=5", "file=binlog.000001;pos=3", "file=binlog.000001;pos=4294967296",
		"file=binlog.000001;pos=5;gtid=", "file=binlog.000001;pos=5;gtid=0-1", "file=binlog.000001;pos=5;gtid=0-1-2,0-3-4",
		"file=binlog.000001;pos=5;gtid=x:1-2", "file=binlog.000001;pos=5;lsn=1", "file=binlog.000001;pos=5;pos=6", "16/B374D848",
		"file=a b.000001;pos=5", "file=binlog.000001;pos=-5", "file=binlog.000001;pos=5;gtid=0-1-x",
		"file=binlog.000001;pos=5;server=0", "file=binlog.000001;pos=5;epoch=-1", "file=binlog.000001;pos=5;server=x",
		"file=binlog.000001;pos=5;epoch=4294967296", "file=binlog.000001;pos=5;server=1;server=2",
	} {
		if _, err := ParsePosition(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		} else if !strings.Contains(err.Error(), "want file=") {
			t.Errorf("%q: unclear error %v", bad, err)
		}
	}
}

func TestPositionCompare(t *testing.T) {
	a := Position{File: "binlog.000009", Pos: 500}
	b := Position{File: "binlog.000010", Pos: 4}
	c := Position{File: "binlog.000010", Pos: 900, GTID: "0-1-5"}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || b.Compare(c) != -1 || c.Compare(&c) != 0 || c.Compare(Position{File: "binlog.000010", Pos: 900}) != 0 {
		t.Fatal("order by file sequence number, then offset")
	}
	for _, tc := range []struct {
		name string
		p, q string // q is the position that may cover p
		want int
	}{
		// MariaDB: per domain by sequence number, whatever the files say.
		{"same GTID", "file=binlog.000004;pos=900;gtid=0-1-57", "file=binlog.000004;pos=900;gtid=0-1-57", 0},
		{"earlier seq", "file=binlog.000004;pos=900;gtid=0-1-56", "file=binlog.000004;pos=999;gtid=0-1-57", -1},
		{"later seq", "file=binlog.000004;pos=999;gtid=0-1-58", "file=binlog.000004;pos=900;gtid=0-1-57", 1},
		// A promoted replica numbers its files from 1 and writes the
		// domain's next sequence numbers under its own server id.
		{"failover, later", "file=binlog.000001;pos=500;gtid=0-2-58", "file=binlog.000007;pos=900;gtid=0-1-57", 1},
		{"failover, replicated", "file=binlog.000001;pos=400;gtid=0-1-57", "file=binlog.000007;pos=900;gtid=0-1-57", 0},
		{"failover, earlier", "file=binlog.000001;pos=300;gtid=0-1-56", "file=binlog.000007;pos=900;gtid=0-1-57", -1},
		// After RESET MASTER the sequence starts over: not covered.
		{"reset", "file=binlog.000001;pos=400;gtid=0-1-1", "file=binlog.000007;pos=900;gtid=1-1-57", 1},
		// Domains: covered only when every domain of p is reached.
		{"other domain ahead", "file=b.000001;pos=9;gtid=0-1-5,1-1-9", "file=b.000001;pos=9;gtid=0-1-6,1-1-8", 1},
		{"other domain ahead, reversed", "file=b.000001;pos=9;gtid=0-1-6,1-1-8", "file=b.000001;pos=9;gtid=0-1-5,1-1-9", 1},
		{"new domain", "file=b.000001;pos=9;gtid=0-1-5,2-1-1", "file=b.000001;pos=9;gtid=0-1-5", 1},
		{"fewer domains", "file=b.000001;pos=9;gtid=0-1-5", "file=b.000001;pos=9;gtid=0-1-5,2-1-1", -1},
		// MySQL: set containment.
		{"mysql contained", "file=b.000002;pos=9;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-56", "file=b.000001;pos=9;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57", -1},
		{"mysql equal", "file=b.000002;pos=9;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57", "file=b.000001;pos=5;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57", 0},
		{"mysql other uuid", "file=b.000001;pos=9;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57,4e11fa47-71ca-11e1-9e33-c80aa9429562:1", "file=b.000002;pos=9;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-99", 1},
		{"flavors differ", "file=b.000001;pos=9;gtid=0-1-5", "file=b.000002;pos=9;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-99", 1},
		// Without GTIDs: only files of one log compare.
		{"other log", "file=binlog.000001;pos=4", "file=mysql-bin.000009;pos=4", 1},
	} {
		p, err1 := ParsePosition(tc.p)
		q, err2 := ParsePosition(tc.q)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if got := p.Compare(q); got != tc.want {
			t.Errorf("%s: %s compared with %s = %d, want %d", tc.name, tc.p, tc.q, got, tc.want)
		}
	}
}

// TestPositionCompareIdentity: the server and epoch fields keep positions
// of different logs from covering each other, and no input panics.
func TestPositionCompareIdentity(t *testing.T) {
	old := Position{File: "binlog.000007", Pos: 900, GTID: "0-1-57", Server: 1}
	reset := Position{File: "binlog.000001", Pos: 400, GTID: "0-1-2", Server: 1, Epoch: 1}
	if reset.Compare(old) != 1 || old.Compare(reset) != -1 {
		t.Errorf("a position after a followed reset must come after one before it: %d %d", reset.Compare(old), old.Compare(reset))
	}
	other := Position{File: "binlog.000001", Pos: 400, Server: 2}
	if other.Compare(Position{File: "binlog.000007", Pos: 900, Server: 1}) != 1 || (Position{File: "binlog.000007", Pos: 900, Server: 1}).Compare(other) != 1 {
		t.Error("file positions of two servers must not cover each other")
	}
	legacy := Position{File: "binlog.000007", Pos: 900}
	if legacy.Compare(Position{File: "binlog.000007", Pos: 901, Server: 1}) != -1 {
		t.Error("a position without a server compares by file with one that has it")
	}
	var nilPos *Position
	for _, o := range []change.Position{nil, nilPos, foreignPosition{}} {
		if got := old.Compare(o); got != 1 {
			t.Errorf("compare with %#v = %d, want 1 (not covered)", o, got)
		}
	}
}

type foreignPosition struct{}

func (foreignPosition) String() string                { return "lsn" }
func (foreignPosition) Compare(o change.Position) int { return 0 }

// FuzzParsePosition: any text is parsed or refused without panicking, and
// what parses round-trips through String.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{
		"file=binlog.000003;pos=1234;gtid=0-1-57", "file=binlog.000003;pos=1234",
		"file=binlog.000001;pos=4;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57", "file=x.1;pos=4;gtid=1-1-1,0-0-0", "file=b.000002;pos=9;gtid=0-1-5;server=7;epoch=1",
		"file=binlog.000001;pos=4;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:tag:1-57", ";;==", "gtid=:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePosition(s)
		if err != nil {
			return
		}
		q, err := ParsePosition(p.String())
		if err != nil || q != p {
			t.Fatalf("%q → %q → %v, %v", s, p, q, err)
		}
	})
}

// FuzzMariaGTIDs: the MariaDB GTID parser never panics and round-trips.
func FuzzMariaGTIDs(f *testing.F) {
	for _, s := range []string{"0-1-57", "0-1-57,1-2-9", "4294967295-4294967295-18446744073709551615", "1-1", "-1-1-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseMariaGTIDs(s)
		if err != nil {
			return
		}
		h, err := parseMariaGTIDs(g.String())
		if err != nil || h.String() != g.String() {
			t.Fatalf("%q → %q → %q, %v", s, g, h, err)
		}
	})
}

// FuzzPositionCompare: any two positions compare without panicking, a
// position equals itself, and the order is consistent both ways: -1 one
// way is +1 the other, 0 is 0 (both +1 means neither covers the other).
func FuzzPositionCompare(f *testing.F) {
	for _, s := range [][2]string{
		{"file=binlog.000004;pos=900;gtid=0-1-57;server=1", "file=binlog.000001;pos=500;gtid=0-2-58;server=2"},
		{"file=b.000001;pos=9;gtid=0-1-5,1-1-9", "file=b.000001;pos=9;gtid=0-1-6,1-1-8;epoch=1"},
		{"file=b.000002;pos=9;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-56", "file=b.000001;pos=9;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57:60"},
		{"file=binlog.000001;pos=4", "file=mysql-bin.000009;pos=4;server=3"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		p, err1 := ParsePosition(a)
		q, err2 := ParsePosition(b)
		if err1 != nil || err2 != nil {
			return
		}
		if p.Compare(p) != 0 || p.Compare(&p) != 0 {
			t.Fatalf("%s does not equal itself", p)
		}
		pq, qp := p.Compare(q), q.Compare(p)
		if pq < -1 || pq > 1 || (pq == -1 && qp != 1) || (pq == 0 && qp != 0) {
			t.Fatalf("%s vs %s = %d, reversed %d", p, q, pq, qp)
		}
	})
}

// TestPositionBinlog checks the parts Binlog hands to consumers that cannot
// import this package (sink/envelope).
func TestPositionBinlog(t *testing.T) {
	p := Position{File: "binlog.000003", Pos: 1234, GTID: "0-1-57,1-2-9", Server: 7, Epoch: 2}
	file, pos, gtid, server := p.Binlog()
	if file != "binlog.000003" || pos != 1234 || gtid != "0-1-57,1-2-9" || server != 7 {
		t.Errorf("Binlog() = %q, %d, %q, %d", file, pos, gtid, server)
	}
	var b interface {
		Binlog() (string, uint32, string, uint32)
	} = p
	if file, _, gtid, server := b.Binlog(); file != p.File || gtid != p.GTID || server != p.Server {
		t.Errorf("through the interface: %q %q %d", file, gtid, server)
	}
	if file, pos, gtid, server := (Position{File: "mysql-bin.000001", Pos: 4}).Binlog(); file != "mysql-bin.000001" || pos != 4 || gtid != "" || server != 0 {
		t.Errorf("no GTID, no server: %q %d %q %d", file, pos, gtid, server)
	}
}

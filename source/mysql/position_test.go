package mysql

import (
	"strings"
	"testing"
)

func TestPositionText(t *testing.T) {
	for _, s := range []string{
		"file=binlog.000003;pos=1234",
		"file=binlog.000003;pos=1234;gtid=0-1-57",
		"file=mysql-bin.000010;pos=4;gtid=0-1-57,1-2-9,7-3-18446744073709551615",
		"file=binlog.000001;pos=4294967295;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57",
		"file=binlog.000001;pos=99;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9,4e11fa47-71ca-11e1-9e33-c80aa9429562:1",
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
}

// FuzzParsePosition: any text is parsed or refused without panicking, and
// what parses round-trips through String.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{
		"file=binlog.000003;pos=1234;gtid=0-1-57", "file=binlog.000003;pos=1234",
		"file=binlog.000001;pos=4;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57", "file=x.1;pos=4;gtid=1-1-1,0-0-0",
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

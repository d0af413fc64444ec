package mysql

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
)

// TestMySQLGroups feeds MySQL-style event groups (GTID, BEGIN ... XID; GTID,
// DDL; anonymous GTIDs) to the stream: the resume point follows each whole
// group and the executed GTID set grows.
func TestMySQLGroups(t *testing.T) {
	s := &Source{flavor: "mysql", opts: Options{Tables: []string{"d.*"}, Log: zerolog.Nop()}}
	st := &stream{s: s, byID: map[uint64]*shape{}, last: map[change.TableID]*shape{}}
	const uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	if err := st.setResume(Position{File: "binlog.000001", Pos: 4, GTID: uuid + ":1-5"}); err != nil {
		t.Fatal(err)
	}
	sid, _ := hex.DecodeString("3e11fa4771ca11e19e33c80aa9429562")
	ctx := context.Background()
	ev := func(pos uint32, typ replication.EventType, e replication.Event) {
		t.Helper()
		if err := st.handle(ctx, &replication.BinlogEvent{Header: &replication.EventHeader{LogPos: pos, EventType: typ}, Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	ev(0, replication.ROTATE_EVENT, &replication.RotateEvent{Position: 4, NextLogName: []byte("binlog.000002")})
	ev(100, replication.GTID_EVENT, &replication.GTIDEvent{SID: sid, GNO: 6})
	ev(150, replication.QUERY_EVENT, &replication.QueryEvent{Query: []byte("BEGIN")})
	ev(170, replication.QUERY_EVENT, &replication.QueryEvent{Query: []byte("SAVEPOINT a")})
	if st.file != "binlog.000001" {
		t.Fatalf("resume point moved inside a group: %s", st.resume())
	}
	ev(200, replication.XID_EVENT, &replication.XIDEvent{})
	if got := st.resume().String(); got != "file=binlog.000002;pos=200;gtid="+uuid+":1-6" {
		t.Fatalf("after the first group: %s", got)
	}
	ev(300, replication.GTID_EVENT, &replication.GTIDEvent{SID: sid, GNO: 7})
	ev(400, replication.QUERY_EVENT, &replication.QueryEvent{Query: []byte("/* x */ CREATE TABLE d.x (id int)"), Schema: []byte("d")})
	if got := st.resume().String(); got != "file=binlog.000002;pos=400;gtid="+uuid+":1-7" {
		t.Fatalf("after the DDL: %s", got)
	}
	ev(500, replication.ANONYMOUS_GTID_EVENT, &replication.GTIDEvent{SID: make([]byte, 16)})
	ev(550, replication.QUERY_EVENT, &replication.QueryEvent{Query: []byte("BEGIN")})
	ev(600, replication.QUERY_EVENT, &replication.QueryEvent{Query: []byte("COMMIT")})
	if got := st.resume().String(); got != "file=binlog.000002;pos=600;gtid="+uuid+":1-7" {
		t.Fatalf("after an anonymous group: %s", got)
	}
	ev(0, replication.ROTATE_EVENT, &replication.RotateEvent{Position: 4, NextLogName: []byte("binlog.000003")}) // artificial: no move
	if st.file != "binlog.000002" {
		t.Fatalf("artificial rotate moved the resume point: %s", st.resume())
	}
	ev(700, replication.ROTATE_EVENT, &replication.RotateEvent{Position: 4, NextLogName: []byte("binlog.000004")})
	if got := st.resume().String(); got != "file=binlog.000004;pos=4;gtid="+uuid+":1-7" {
		t.Fatalf("after a rotate: %s", got)
	}
}

package mysql

import (
	"context"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluicecdc/sluice/pkg/change"
)

// What the server writes to the binlog for rolled-back work (MariaDB 10.11
// and MySQL 8, row format). A rolled-back transaction is normally not
// logged at all, and ROLLBACK TO SAVEPOINT normally just drops the rows
// logged since the savepoint. But once the transaction changed a
// non-transactional table (MyISAM, Aria) or created a temporary table, the
// server cannot take back what it logged:
//
//   - ROLLBACK TO s: the group holds SAVEPOINT s, the rows after it, then
//     a "ROLLBACK TO s" query; those rows never happened.
//   - ROLLBACK: the group holds the transactional rows, then a "ROLLBACK"
//     query instead of COMMIT or XID; none of them happened. (A ROLLBACK TO
//     a savepoint set before any change makes MariaDB end the group like
//     this and start a new one.) The non-transactional rows, which did
//     happen, go to a group of their own that commits.
//
// Every SAVEPOINT is logged, so savepoints are cheap marks until a
// ROLLBACK TO uses one.

// savepoint is a SAVEPOINT of the event group being read.
type savepoint struct {
	name string      // as logged; names compare case-insensitively
	at   int         // changes of the group before it (st.sent plus those in st.cur)
	mark change.Mark // where it is in st.cur, while no part was sent after it
	sub  string      // the Savepoint part that set it in the target; "" while none was sent
}

// setSavepoint handles SAVEPOINT name: a new savepoint replaces one of the
// same name. While the group goes out in parts, the changes before it are
// sent and a Savepoint part marks the place in the target.
func (st *stream) setSavepoint(ctx context.Context, name string) error {
	st.dropSavepoint(name, false)
	sp := savepoint{name: name, at: st.sent}
	if st.partID != "" {
		if err := st.sendCur(ctx); err != nil {
			return err
		}
		sp.at = st.sent
		if err := st.announce(ctx, &sp); err != nil {
			return err
		}
	} else if st.cur != nil {
		m, err := st.cur.Mark()
		if err != nil {
			return err
		}
		sp.at, sp.mark = st.sent+st.cur.Len(), m
	}
	st.saves = append(st.saves, sp)
	return nil
}

// rollbackTo handles ROLLBACK TO name: the changes after the savepoint are
// dropped, or, when some were sent in parts, rolled back in the target.
// The savepoint stays, as it does in the server.
func (st *stream) rollbackTo(ctx context.Context, name string) error {
	i := st.findSavepoint(name)
	if i < 0 {
		return permanentf("the source binlog rolls back to savepoint %s in %s, but the transaction (%s) set no such savepoint in the binlog; "+
			"Sluice cannot tell which changes were rolled back", name, st.curFile, st.groupGTID)
	}
	st.saves = st.saves[:i+1]
	sp := &st.saves[i]
	if sp.sub == "" {
		if st.cur != nil {
			return st.cur.Rewind(sp.mark)
		}
		return nil
	}
	if st.cur != nil { // all after the savepoint
		st.cur.Close()
		st.cur = nil
	}
	if err := st.deliver(ctx, &change.Txn{ID: st.partID, Part: change.RollbackSub, Sub: sp.sub}); err != nil {
		return err
	}
	st.sent = sp.at
	// The target keeps the savepoint too; a new one keeps the pipeline's
	// count of the running transaction's changes exact.
	return st.announce(ctx, sp)
}

// announce sends the Savepoint part for sp.
func (st *stream) announce(ctx context.Context, sp *savepoint) error {
	st.subSeq++
	sp.sub = strconv.Itoa(st.subSeq)
	return st.deliver(ctx, &change.Txn{ID: st.partID, Part: change.Savepoint, Sub: sp.sub})
}

// dropSavepoint forgets the savepoint name (RELEASE SAVEPOINT, or a new
// one of the same name) and, with later, the savepoints set after it.
func (st *stream) dropSavepoint(name string, later bool) {
	i := st.findSavepoint(name)
	switch {
	case i < 0:
	case later:
		st.saves = st.saves[:i]
	default:
		st.saves = append(st.saves[:i], st.saves[i+1:]...)
	}
}

func (st *stream) findSavepoint(name string) int {
	for i := len(st.saves) - 1; i >= 0; i-- {
		if strings.EqualFold(st.saves[i].name, name) {
			return i
		}
	}
	return -1
}

// rollback ends an event group that ends in ROLLBACK: none of its changes
// happened. Its GTID was used, so the resume point moves past it.
func (st *stream) rollback(ctx context.Context, h *replication.EventHeader) error {
	n := st.sent
	if st.cur != nil {
		n += st.cur.Len()
		st.cur.Close()
		st.cur = nil
	}
	st.abortParts(ctx)
	if err := st.endGroup(h); err != nil {
		return err
	}
	if n > 0 {
		st.s.opts.Log.Info().Str("txn", st.groupGTID).Int("changes", n).Stringer("position", st.resume()).
			Msg("a source transaction that also changed a non-transactional or temporary table was rolled back; its changes to replicated tables are not applied")
	}
	st.endGroupState()
	return nil
}

// readSavepoint reads the savepoint name after ROLLBACK [WORK] TO
// [SAVEPOINT] or RELEASE SAVEPOINT.
func readSavepoint(l *lexer) (string, bool) {
	save := l.i
	if l.word() != "SAVEPOINT" {
		l.i = save
	}
	return l.ident()
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/source/postgres/pgoutput"
)

// handle folds one pgoutput message into the transaction it belongs to and
// delivers transactions as they commit.
func (st *stream) handle(ctx context.Context, msg pgoutput.Message) error {
	switch m := msg.(type) {
	case *pgoutput.Begin:
		if st.cur != nil {
			st.cur.Close()
		}
		st.cur = st.s.newTxn()
		st.cur.ID = xidString(m.Xid)
	case *pgoutput.Commit:
		if st.cur == nil {
			return fmt.Errorf("%w: commit without begin at %s", errProtocol, LSN(m.EndLSN))
		}
		txn := st.cur
		st.cur = nil
		txn.Commit, txn.Position = m.CommitTime, LSN(m.EndLSN)
		return st.deliver(ctx, txn)
	case *pgoutput.Relation:
		return st.relation(ctx, m)
	case *pgoutput.TypeMsg:
		st.typeName(m)
	case *pgoutput.Insert:
		rel, err := st.rel(m.RelationID)
		if err != nil {
			return err
		}
		after, err := toRow(rel, m.New, false)
		if err != nil {
			return err
		}
		return st.add(ctx, m.Xid, change.Change{Op: change.Insert, Table: rel.table, After: after})
	case *pgoutput.Update:
		rel, err := st.rel(m.RelationID)
		if err != nil {
			return err
		}
		c := change.Change{Op: change.Update, Table: rel.table}
		if m.OldKind != 0 {
			if c.Before, err = toRow(rel, m.Old, m.OldKind == 'K'); err != nil {
				return err
			}
		}
		if c.After, err = toRow(rel, m.New, false); err != nil {
			return err
		}
		return st.add(ctx, m.Xid, c)
	case *pgoutput.Delete:
		rel, err := st.rel(m.RelationID)
		if err != nil {
			return err
		}
		before, err := toRow(rel, m.Old, m.OldKind == 'K')
		if err != nil {
			return err
		}
		return st.add(ctx, m.Xid, change.Change{Op: change.Delete, Table: rel.table, Before: before})
	case *pgoutput.Truncate:
		for _, id := range m.RelationIDs {
			rel, err := st.rel(id)
			if err != nil {
				return err
			}
			if err := st.add(ctx, m.Xid, change.Change{Op: change.Truncate, Table: rel.table}); err != nil {
				return err
			}
		}
	case *pgoutput.StreamStart:
		st.inStream, st.streamXid = true, m.Xid
		if m.Xid == st.early {
			return nil
		}
		if m.FirstSegment && st.early == 0 && st.partsOK() {
			st.early = m.Xid
			st.earlySubs = map[uint32]bool{}
			st.earlyOrder = nil
			return nil
		}
		if st.streams[m.Xid] == nil {
			if !m.FirstSegment {
				return fmt.Errorf("%w: stream segment for unknown transaction %d", errProtocol, m.Xid)
			}
			txn := st.s.newTxn()
			txn.ID = xidString(m.Xid)
			st.streams[m.Xid] = &streamTxn{txn: txn, marks: map[uint32]change.Mark{}}
		}
	case *pgoutput.StreamStop:
		st.inStream = false
		if st.streamXid == st.early {
			return st.sendPart(ctx)
		}
	case *pgoutput.StreamCommit:
		if m.Xid == st.early && st.early != 0 {
			if err := st.sendPart(ctx); err != nil {
				return err
			}
			st.early = 0
			done := &change.Txn{ID: xidString(m.Xid), Part: change.Done, Commit: m.CommitTime, Position: LSN(m.EndLSN)}
			st.s.opts.Log.Debug().Str("xid", done.ID).Msg("running transaction committed")
			return st.deliver(ctx, done)
		}
		t := st.streams[m.Xid]
		if t == nil {
			return fmt.Errorf("%w: stream commit for unknown transaction %d", errProtocol, m.Xid)
		}
		delete(st.streams, m.Xid)
		t.txn.Commit, t.txn.Position = m.CommitTime, LSN(m.EndLSN)
		st.s.opts.Log.Debug().Str("xid", t.txn.ID).Int("changes", t.txn.Len()).Bool("spilled", t.txn.Spilled()).
			Msg("streamed transaction committed")
		return st.deliver(ctx, t.txn)
	case *pgoutput.StreamAbort:
		if m.Xid == st.early && st.early != 0 {
			return st.abortEarly(ctx, m)
		}
		return st.abort(m)
	}
	return nil // Origin and logical messages carry nothing to replicate
}

// add appends a change to the open transaction, or to the streamed one.
func (st *stream) add(ctx context.Context, xid uint32, c change.Change) error {
	if !st.inStream {
		if st.cur == nil {
			return fmt.Errorf("%w: change outside a transaction", errProtocol)
		}
		return st.cur.Add(c)
	}
	if st.streamXid == st.early {
		return st.addEarly(ctx, xid, c)
	}
	t := st.streams[st.streamXid]
	if t == nil {
		return fmt.Errorf("%w: streamed change for unknown transaction %d", errProtocol, st.streamXid)
	}
	if xid != st.streamXid {
		if _, seen := t.marks[xid]; !seen {
			m, err := t.txn.Mark()
			if err != nil {
				return err
			}
			t.marks[xid] = m
			t.order = append(t.order, xid)
		}
	}
	return t.txn.Add(c)
}

// abort drops a streamed transaction, or just a rolled-back subtransaction:
// its changes, and those of every subtransaction begun after it (which can
// only be its children, since it was still open), are cut off.
func (st *stream) abort(m *pgoutput.StreamAbort) error {
	t := st.streams[m.Xid]
	if t == nil {
		return nil
	}
	if m.SubXid == m.Xid {
		delete(st.streams, m.Xid)
		return t.txn.Close()
	}
	mark, ok := t.marks[m.SubXid]
	if !ok {
		return nil // the subtransaction changed nothing we receive
	}
	t.order = cutSubs(t.order, m.SubXid, func(x uint32) { delete(t.marks, x) })
	return t.txn.Rewind(mark)
}

// relation caches the shape of a relation. The server sends it before the
// first change of a relation in a session and after every change of shape,
// as it was when the change was written (see describe).
func (st *stream) relation(ctx context.Context, m *pgoutput.Relation) error {
	rel := relSpec{relid: m.RelationID, id: change.TableID{Schema: m.Namespace, Name: m.Name}, replident: m.ReplicaIdentity,
		cols: make([]colSpec, len(m.Columns))}
	ident := make([]bool, len(m.Columns))
	for i, c := range m.Columns {
		rel.cols[i] = colSpec{name: c.Name, oid: c.TypeOID, typmod: c.TypeMod, ident: c.Flags&1 != 0}
		ident[i] = rel.cols[i].ident
	}
	var prev *change.Table
	if old := st.rels[m.RelationID]; old != nil {
		prev = old.table
	}
	t, err := st.s.describe(ctx, rel, st.types, prev)
	if err != nil {
		return err
	}
	if prev != nil && prev.SameShape(t) {
		t = prev // keep the pointer: sinks compare shapes by it
	}
	st.rels[m.RelationID] = &relation{table: t, ident: ident}
	return nil
}

// typeName remembers the name of a user type the server describes before
// a Relation using it, for when the type is gone from the catalog by the
// time the Relation is read.
func (st *stream) typeName(m *pgoutput.TypeMsg) {
	if st.types == nil {
		st.types = map[uint32]typeName{}
	}
	st.types[m.TypeOID] = typeName{schema: m.Namespace, name: m.Name}
}

func (st *stream) rel(id uint32) (*relation, error) {
	r := st.rels[id]
	if r == nil {
		return nil, fmt.Errorf("%w: change for relation %d before its Relation message", errProtocol, id)
	}
	return r, nil
}

// toRow converts a pgoutput tuple. In a key-only old tuple ('K'), columns
// outside the replica identity are not sent: they become Missing, not NULL.
func toRow(rel *relation, tup pgoutput.Tuple, keyOnly bool) (change.Row, error) {
	if len(tup) != len(rel.table.Columns) {
		return nil, fmt.Errorf("%w: %s: tuple has %d columns, relation has %d", errProtocol, rel.table.ID, len(tup), len(rel.table.Columns))
	}
	row := make(change.Row, len(tup))
	for i, c := range tup {
		switch c.Kind {
		case 'n':
			if keyOnly && !rel.ident[i] {
				row[i].State = change.Missing
			} else {
				row[i].State = change.Null
			}
		case 'u':
			row[i].State = change.Unchanged
		case 't':
			row[i] = change.Value{State: change.Present, Data: c.Data}
		default:
			return nil, fmt.Errorf("%w: %s column %s: unexpected value kind %q", errProtocol, rel.table.ID, rel.table.Columns[i].Name, c.Kind)
		}
	}
	return row, nil
}

// describe describes a relation, reconnecting the catalog connection once
// if it died (the source may have restarted).
func (s *Source) describe(ctx context.Context, rel relSpec, typeNames map[uint32]typeName, prev *change.Table) (*change.Table, error) {
	conn, err := s.catalog(ctx)
	if err != nil {
		return nil, err
	}
	return describe(ctx, conn, rel, typeNames, prev)
}

// catalog returns the catalog connection, reconnecting if it died.
func (s *Source) catalog(ctx context.Context) (*pgx.Conn, error) {
	if s.meta == nil || s.meta.IsClosed() {
		conn, err := s.connect(ctx)
		if err != nil {
			return nil, err
		}
		s.meta = conn
	}
	return s.meta, nil
}

// newTxn starts a transaction. Every transaction the source builds keeps its
// changes in memory within one budget, however many run at once (streamed
// transactions in progress at the same time, delivered ones not yet
// applied); past it they spill to disk.
func (s *Source) newTxn() *change.Txn {
	return change.NewTxnIn(s.opts.SpillDir, s.opts.SpillLimit, s.memory)
}

// memoryBudget bounds the bytes of changes all of the source's transactions
// keep in memory together.
const memoryBudget = 64 << 20

// partRows and partBytes bound one part of a running transaction.
const (
	partRows  = 4096
	partBytes = 1 << 20
)

// partsOK tells whether a streamed transaction may be delivered in parts:
// when the pipeline takes parts, and not while transactions already
// delivered before a reconnect are being sent again (their parts would
// arrive twice).
func (st *stream) partsOK() bool {
	return st.s.parts && (st.replayUntil == 0 || st.delivered > st.replayUntil)
}

// addEarly adds a change of the running transaction delivered in parts. A
// subtransaction's first change is preceded by a Savepoint part.
func (st *stream) addEarly(ctx context.Context, xid uint32, c change.Change) error {
	if xid != st.early && !st.earlySubs[xid] {
		if err := st.sendPart(ctx); err != nil {
			return err
		}
		st.earlySubs[xid] = true
		st.earlyOrder = append(st.earlyOrder, xid)
		if err := st.deliver(ctx, &change.Txn{ID: xidString(st.early), Part: change.Savepoint, Sub: xidString(xid)}); err != nil {
			return err
		}
	}
	if st.part == nil {
		st.part = st.s.newTxn()
		st.part.ID, st.part.Part = xidString(st.early), change.Open
	}
	if err := st.part.Add(c); err != nil {
		return err
	}
	if st.part.Len() >= partRows || st.part.Size() >= partBytes {
		return st.sendPart(ctx)
	}
	return nil
}

// sendPart delivers the changes gathered for the running transaction.
func (st *stream) sendPart(ctx context.Context) error {
	if st.part == nil {
		return nil
	}
	p := st.part
	st.part = nil
	return st.deliver(ctx, p)
}

// abortEarly passes on the rollback of the running transaction, or of one of
// its subtransactions (which drops the subtransactions begun after it too).
func (st *stream) abortEarly(ctx context.Context, m *pgoutput.StreamAbort) error {
	if err := st.sendPart(ctx); err != nil {
		return err
	}
	if m.SubXid == m.Xid {
		st.early = 0
		return st.deliver(ctx, &change.Txn{ID: xidString(m.Xid), Part: change.Abort})
	}
	if !st.earlySubs[m.SubXid] {
		return nil // it changed nothing we receive
	}
	st.earlyOrder = cutSubs(st.earlyOrder, m.SubXid, func(x uint32) { delete(st.earlySubs, x) })
	return st.deliver(ctx, &change.Txn{ID: xidString(m.Xid), Part: change.RollbackSub, Sub: xidString(m.SubXid)})
}

// cutSubs forgets a rolled-back subtransaction and every one begun after it
// (its children: it was still open), given in the order they began.
func cutSubs(order []uint32, sub uint32, forget func(uint32)) []uint32 {
	for i, x := range order {
		if x == sub {
			for _, later := range order[i:] {
				forget(later)
			}
			return order[:i]
		}
	}
	return order
}

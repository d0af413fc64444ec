package mysql

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.PartSource = (*Source)(nil)

// A transaction read from the binlog has committed already, but it arrives
// only when it is read to its end. When the sink can apply parts, a large
// one is handed on in parts of about this size while the rest is still
// being read, so decoding and applying overlap and memory stays bounded.
const (
	partRows  = 10000
	partBytes = 8 << 20
)

// DeliverParts makes the stream send large transactions in parts
// (change.Open ... change.Done) instead of whole. Call before Start.
func (s *Source) DeliverParts() {
	s.parts = true
	if s.partRows == 0 {
		s.partRows = partRows
	}
}

// maybeSendPart hands the changes gathered so far on as a part of the
// running transaction once they are many enough.
func (st *stream) maybeSendPart(ctx context.Context) error {
	if !st.s.parts || st.cur == nil || (st.cur.Len() < st.s.partRows && st.cur.Size() < partBytes) {
		return nil
	}
	if st.partID != "" {
		return st.sendCur(ctx)
	}
	st.partID = st.groupGTID
	if st.partID == "" {
		st.partID = "part@" + st.curFile
	}
	if len(st.saves) == 0 {
		return st.sendCur(ctx)
	}
	// The savepoints set so far lie inside the changes gathered: they go
	// out in pieces, with a Savepoint part between them, so that a
	// ROLLBACK TO can undo exactly what followed its savepoint.
	at := make([]int, len(st.saves))
	for i, sp := range st.saves {
		at[i] = sp.at
	}
	pieces, err := split(st.cur, at, st.s.opts.SpillDir)
	st.cur = nil
	if err != nil {
		return err
	}
	for i, piece := range pieces {
		if i > 0 {
			if err := st.announce(ctx, &st.saves[i-1]); err != nil {
				closeAll(pieces[i:])
				return err
			}
		}
		// The first part is an Open even when empty: the pipeline marks the
		// start of the running transaction at it.
		if piece.Len() == 0 && i > 0 {
			piece.Close()
			continue
		}
		st.sent += piece.Len()
		piece.ID, piece.Part = st.partID, change.Open
		if err := st.deliver(ctx, piece); err != nil {
			closeAll(pieces[i+1:])
			return err
		}
	}
	return nil
}

// sendCur sends the changes gathered as a part of the running transaction.
func (st *stream) sendCur(ctx context.Context) error {
	if st.cur == nil || st.cur.Len() == 0 {
		return nil
	}
	txn := st.cur
	st.cur = nil
	st.sent += txn.Len()
	txn.ID, txn.Part = st.partID, change.Open
	return st.deliver(ctx, txn)
}

// split cuts t before the changes numbered at (ascending; the savepoints'
// numbers, as t holds the group's first changes), into len(at)+1
// transactions spilling to dir. It closes t.
func split(t *change.Txn, at []int, dir string) ([]*change.Txn, error) {
	defer t.Close()
	out := []*change.Txn{change.NewTxn(dir, 0)}
	i := 0
	err := t.Each(func(c *change.Change) error {
		for len(out)-1 < len(at) && i >= at[len(out)-1] {
			out = append(out, change.NewTxn(dir, 0))
		}
		i++
		return out[len(out)-1].Add(*c)
	})
	for len(out) < len(at)+1 {
		out = append(out, change.NewTxn(dir, 0))
	}
	if err != nil {
		closeAll(out)
		return nil, err
	}
	return out, nil
}

func closeAll(ts []*change.Txn) {
	for _, t := range ts {
		t.Close()
	}
}

// endParts ends a transaction sent in parts at its commit: the changes
// left go as a last part, then Done carries the commit position.
func (st *stream) endParts(ctx context.Context, done *change.Txn) error {
	if err := st.sendCur(ctx); err != nil {
		done.Close()
		return err
	}
	done.ID, done.Part = st.partID, change.Done
	st.partID = ""
	return st.deliver(ctx, done)
}

// abortParts voids the parts sent of a transaction that will be read again
// from its start (the connection broke inside it) or never ended.
func (st *stream) abortParts(ctx context.Context) {
	if st.partID == "" {
		return
	}
	id := st.partID
	st.partID = ""
	if err := st.deliver(ctx, &change.Txn{ID: id, Part: change.Abort}); err != nil {
		// Only on shutdown: the pipeline rolls back what it holds open.
		st.s.opts.Log.Debug().Err(err).Str("txn", id).Msg("abort of a partly sent transaction not delivered")
	}
}

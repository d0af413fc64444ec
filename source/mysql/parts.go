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
	if st.partID == "" {
		st.partID = st.groupGTID
		if st.partID == "" {
			st.partID = "part@" + st.curFile
		}
	}
	txn := st.cur
	st.cur = nil
	txn.ID, txn.Part = st.partID, change.Open
	return st.deliver(ctx, txn)
}

// endParts ends a transaction sent in parts at its commit: the changes
// left go as a last part, then Done carries the commit position.
func (st *stream) endParts(ctx context.Context, done *change.Txn) error {
	if st.cur != nil {
		last := st.cur
		st.cur = nil
		last.ID, last.Part = st.partID, change.Open
		if err := st.deliver(ctx, last); err != nil {
			done.Close()
			return err
		}
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

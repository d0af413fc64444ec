package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// A large source transaction may arrive in parts while it still runs (see
// change.Part). Its parts are applied inside the open target transaction,
// after the savepoint partMark, and the target commits only after the source
// commits: nothing uncommitted ever becomes durable.
//
// Transactions that commit at the source while it runs arrive whole between
// its parts. Each is applied at once, where it arrives, inside the same
// target transaction: that is its place in the source's commit order. The
// running transaction's changes that were written before that commit touched
// other rows (the source's row locks kept them apart, and a TRUNCATE or DDL
// waits for every transaction that touched the table), so which side of them
// it lands on does not matter; the changes written after it see its effects,
// and in the target they come after it too.
//
// A rollback of the running transaction, or of one of its subtransactions,
// undoes in the target what was applied since the savepoint, including those
// whole transactions. So they are kept (see inside) and applied again right
// after the rollback.

// partMark names the savepoint before a running transaction's changes.
const partMark = "sluice_part"

// insideMemory is how many bytes of the whole transactions applied inside a
// running one are kept in memory for a re-apply; the rest spills to disk.
const insideMemory = 8 << 20

// inside keeps the whole transactions applied inside the running one, in
// order, in one transaction-shaped log that spills to disk past insideMemory.
type inside struct {
	log  *change.Txn
	txns []insideTxn
}

// insideTxn is one kept transaction: its changes lie between from and to in
// the log, and it was (last) applied in subtransaction segment seg.
type insideTxn struct {
	id       string
	pos      change.Position
	commit   time.Time
	from, to change.Mark
	seg      int
}

// keep copies txn's changes into the log.
func (in *inside) keep(txn *change.Txn, seg int) error {
	if in.log == nil {
		in.log = change.NewTxn("", insideMemory)
	}
	from, err := in.log.Mark()
	if err != nil {
		return err
	}
	if err := txn.Each(func(c *change.Change) error { return in.log.Add(*c) }); err != nil {
		return fmt.Errorf("keep transaction %s: %w", txn.ID, err)
	}
	to, err := in.log.Mark()
	if err != nil {
		return err
	}
	in.txns = append(in.txns, insideTxn{id: txn.ID, pos: txn.Position, commit: txn.Commit, from: from, to: to, seg: seg})
	return nil
}

// txn rebuilds kept transaction i for a re-apply. The caller closes it.
func (in *inside) txn(i int) (*change.Txn, error) {
	k := in.txns[i]
	t := change.NewTxn("", 0)
	t.ID, t.Position, t.Commit = k.id, k.pos, k.commit
	if err := in.log.EachRange(k.from, k.to, func(c *change.Change) error { return t.Add(*c) }); err != nil {
		t.Close()
		return nil, fmt.Errorf("reread kept transaction %s: %w", k.id, err)
	}
	return t, nil
}

// reset forgets every kept transaction (the running one ended).
func (in *inside) reset() {
	if in.log != nil {
		in.log.Close()
	}
	*in = inside{}
}

// takePart applies one part of a running transaction.
func (b *batch) takePart(ctx context.Context, r read) error {
	txn := r.txn
	defer txn.Close()
	ps, ok := b.p.sink.(PartSink)
	if !ok {
		return b.p.report(ctx, "apply", fmt.Errorf("the source sent part of a running transaction, but the sink cannot apply parts"))
	}
	// Any part but the end opens the running transaction: its first change
	// may lie in a subtransaction, so a Savepoint part can come first.
	if b.open == "" && txn.Part != change.Abort && txn.Part != change.Done {
		if err := ps.Savepoint(ctx, partMark); err != nil {
			return b.p.report(ctx, "apply", fmt.Errorf("apply running transaction %s: %w", txn.ID, err))
		}
		b.open = txn.ID
		b.openCounts = []countSeg{{}}
	}
	var err error
	switch txn.Part {
	case change.Open:
		if err = b.p.sink.Apply(ctx, txn); err == nil {
			b.rows += txn.Len()
			b.bytes += txn.Size()
			b.touch()
			seg := &b.openCounts[len(b.openCounts)-1]
			seg.counts = addCounts(seg.counts, r.counts)
		}
	case change.Savepoint:
		if err = ps.Savepoint(ctx, subMark(txn.Sub)); err == nil {
			b.openCounts = append(b.openCounts, countSeg{sub: txn.Sub})
		}
	case change.RollbackSub:
		err = b.rollbackSub(ctx, ps, txn.Sub)
	case change.Abort:
		if b.open != "" {
			err = b.rollbackOpen(ctx, ps)
		}
	case change.Done:
		for _, seg := range b.openCounts {
			b.counts = addCounts(b.counts, seg.counts)
		}
		b.open, b.openCounts = "", nil
		b.inside.reset()
		err = b.applyWhole(ctx, r) // no changes: records the commit position
	}
	if err != nil {
		return b.p.report(ctx, "apply", fmt.Errorf("apply running transaction %s: %w", txn.ID, err))
	}
	return nil
}

func subMark(sub string) string { return "sluice_sub_" + sub }

// takeInside applies a whole transaction that committed while the running
// one runs, and keeps it for a re-apply.
func (b *batch) takeInside(ctx context.Context, r read) error {
	defer r.txn.Close()
	if b.replayed(r.txn) {
		return b.applyWhole(ctx, r)
	}
	if err := b.inside.keep(r.txn, len(b.openCounts)-1); err != nil {
		return b.p.report(ctx, "apply", err)
	}
	return b.applyWhole(ctx, r)
}

// rollbackSub undoes a subtransaction of the running transaction (and every
// one begun after it), then applies again the whole transactions that the
// rollback undid.
func (b *batch) rollbackSub(ctx context.Context, ps PartSink, sub string) error {
	if err := ps.RollbackTo(ctx, subMark(sub)); err != nil {
		return err
	}
	from := len(b.openCounts)
	for i, seg := range b.openCounts {
		if i > 0 && seg.sub == sub {
			from = i
			b.openCounts = append(b.openCounts[:i], countSeg{}) // back in its parent
			break
		}
	}
	return b.reapply(ctx, from, from)
}

// rollbackOpen undoes the running transaction's parts; the whole
// transactions applied among them are applied again, now outside it.
func (b *batch) rollbackOpen(ctx context.Context, ps PartSink) error {
	if err := ps.RollbackTo(ctx, partMark); err != nil {
		return err
	}
	b.open, b.openCounts = "", nil
	err := b.reapply(ctx, 0, 0)
	b.inside.reset()
	return err
}

// reapply applies again, in order, the kept transactions last applied in
// segment from or later, which a rollback undid; they now belong to segment
// seg. Their changes were counted when first applied.
func (b *batch) reapply(ctx context.Context, from, seg int) error {
	for i := range b.inside.txns {
		if b.inside.txns[i].seg < from {
			continue
		}
		t, err := b.inside.txn(i)
		if err != nil {
			return err
		}
		err = b.p.sink.Apply(ctx, t)
		t.Close()
		if err != nil {
			return fmt.Errorf("apply transaction %s again after a rollback: %w", b.inside.txns[i].id, err)
		}
		b.inside.txns[i].seg = seg
	}
	return nil
}

// abandonOpen drops the parts of a running transaction (at shutdown): it is
// read again after the restart. The whole transactions applied among them
// are applied again, so that what is flushed next holds them.
func (b *batch) abandonOpen(ctx context.Context) error {
	if b.open == "" {
		return nil
	}
	return b.rollbackOpen(ctx, b.p.sink.(PartSink))
}

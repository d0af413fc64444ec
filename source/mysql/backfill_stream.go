package mysql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// The stream loop's side of the online back-fill (see backfill.go): it
// tells the tracker what every delivered transaction changed, and puts
// chunks into the stream at transaction boundaries at or after their
// snapshot's binlog position.

// partKeys are the keys a transaction delivered in parts changed so far.
type partKeys struct {
	keys   txnKeys
	unsure bool // keys missing (collected only while a back-fill runs) or rolled back
}

// track tells the back-fill tracker about a delivered transaction (or part).
func (st *stream) track(txn *change.Txn) {
	switch txn.Part {
	case change.Whole:
		if txn.Position == nil {
			return
		}
		st.s.tr.delivered(txn.Position.(Position), func() txnKeys { return collectKeys(txn) }, false)
	case change.Open, change.Savepoint, change.RollbackSub:
		pk := st.partKeys
		if pk == nil {
			pk = &partKeys{keys: txnKeys{}}
			st.partKeys = pk
		}
		switch {
		case txn.Part == change.RollbackSub:
			pk.unsure = true
		case !st.s.bf.Busy():
			pk.unsure = true // not collected: a back-fill starting later cannot judge it
		case txn.Part == change.Open:
			pk.keys.merge(collectKeys(txn))
		}
	case change.Abort:
		st.partKeys = nil
	case change.Done:
		pk := st.partKeys
		st.partKeys = nil
		if pk == nil {
			pk = &partKeys{keys: txnKeys{}, unsure: true}
		}
		st.s.tr.delivered(txn.Position.(Position), func() txnKeys { return pk.keys }, pk.unsure)
	}
}

// collectKeys lists the keys txn changes, by table.
func collectKeys(txn *change.Txn) txnKeys {
	keys := txnKeys{}
	_ = txn.Each(func(c *change.Change) error { // a spill read error shows again when the pipeline reads it
		keys.add(c)
		return nil
	})
	return keys
}

// notePoint advances the stream's read point past the event ending at
// logPos in the current file.
func (st *stream) notePoint(logPos uint32) {
	if logPos > st.at {
		st.at = logPos
	}
}

// point is where the stream has read to: every event before it is handled.
func (st *stream) point() Position {
	return Position{File: st.curFile, Pos: st.at, Server: st.server, Epoch: st.epoch}
}

// atBoundary tells whether the stream is between two whole transactions.
func (st *stream) atBoundary() bool {
	return !st.inGroup && st.cur == nil && st.partID == ""
}

// emitChunk puts the back-fill chunk that waits into the stream, once the
// stream is at a transaction boundary at or after the chunk's snapshot.
func (st *stream) emitChunk(ctx context.Context) error {
	if !st.atBoundary() {
		return nil
	}
	if st.chunk == nil {
		select {
		case st.chunk = <-st.s.bfReady:
		default:
			return nil
		}
	}
	c := st.chunk
	if c.err != "" {
		st.chunk = nil
		txn := &change.Txn{ID: "backfill", Position: st.resume(), Commit: time.Now(),
			Backfill: &change.Backfill{Source: mustTableID(c.task.Table), ID: c.task.ID, Table: c.table, Where: c.task.Where,
				After: c.task.After, Rows: c.total, Done: true, Err: c.err}}
		c.res <- chunkResult{}
		return st.deliver(ctx, txn)
	}
	v := st.s.tr.judge(c.w, c.ps, st.point())
	if v.wait {
		return nil // the stream has not read up to the chunk's snapshot yet
	}
	st.chunk = nil
	st.s.tr.close(c.w)
	if skipStaleFilter {
		v = verdict{keys: map[string]bool{}}
	}
	if v.retry {
		c.res <- chunkResult{retry: true}
		return nil
	}
	t := c.table
	txn := change.NewTxn(st.s.opts.SpillDir, 0)
	txn.ID, txn.Position, txn.Commit = "backfill", st.resume(), time.Now()
	bf := &change.Backfill{Source: t.ID, ID: c.task.ID, Table: t, Span: span(c), Where: c.task.Where, Lo: c.lo, Hi: c.hi,
		Prune: c.prune && !v.all, Done: c.done}
	var emitted int64
	for _, r := range c.rows {
		if v.all || v.keys[change.KeyText(t, r)] {
			continue // the target has a newer row of this key
		}
		if err := txn.Add(change.Change{Op: change.Read, Table: t, After: r}); err != nil {
			txn.Close()
			c.res <- chunkResult{retry: true}
			return err
		}
		emitted++
	}
	for k := range v.keys {
		bf.Keep = append(bf.Keep, keyFromText(t, k))
	}
	if len(c.rows) > 0 {
		bf.After = change.KeyTexts(t, c.rows[len(c.rows)-1])
	} else {
		bf.After = c.task.After
	}
	bf.Rows = c.total + emitted
	txn.Backfill = bf
	st.s.opts.Log.Debug().Stringer("table", t.ID).Int("read", len(c.rows)).Int64("emitted", emitted).Int("stale_keys", len(v.keys)).
		Bool("stale_all", v.all).Bool("done", c.done).Stringer("snapshot", c.ps).Stringer("at", st.point()).Msg("back-fill chunk emitted")
	c.res <- chunkResult{emitted: emitted}
	return st.deliver(ctx, txn)
}

// dropChunk hands a waiting chunk back to be read again (the session
// ended; the next one may read another server's binlog).
func (st *stream) dropChunk() {
	if st.chunk == nil {
		return
	}
	st.s.tr.close(st.chunk.w)
	st.chunk.res <- chunkResult{retry: true}
	st.chunk = nil
}

func mustTableID(s string) change.TableID {
	id, err := change.ParseTableID(s)
	if err != nil {
		return change.TableID{Name: s}
	}
	return id
}

// span names the chunk: the request, the table and the key range.
func span(c *chunkOut) string {
	bound := func(r change.Row) string {
		if r == nil {
			return "-"
		}
		return strings.Join(change.KeyTexts(c.table, r), ",")
	}
	return fmt.Sprintf("backfill %s %s (%s, %s]", c.task.ID, c.table.ID, bound(c.lo), bound(c.hi))
}

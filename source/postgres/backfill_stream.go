package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// partKeys are the keys a transaction delivered in parts changed so far.
type partKeys struct {
	keys   txnKeys
	unsure bool // keys missing (collected only while a back-fill runs) or rolled back
}

// track tells the back-fill tracker about a delivered transaction (or part).
func (st *stream) track(txn *change.Txn) {
	if txn.ID == "" { // a position only (an idle source's log end)
		return
	}
	x, err := strconv.ParseUint(txn.ID, 10, 32)
	if err != nil {
		return
	}
	xid := uint32(x)
	switch txn.Part {
	case change.Whole:
		st.s.tr.delivered(xid, func() txnKeys { return collectKeys(txn) }, false)
	case change.Open, change.Savepoint, change.RollbackSub:
		if st.partKeys == nil {
			st.partKeys = map[string]*partKeys{}
		}
		pk := st.partKeys[txn.ID]
		if pk == nil {
			pk = &partKeys{keys: txnKeys{}}
			st.partKeys[txn.ID] = pk
		}
		switch {
		case txn.Part == change.RollbackSub:
			pk.unsure = true
		case !st.s.bf.Busy():
			pk.unsure = true // not collected: a back-fill starting later cannot judge it
		case txn.Part == change.Open:
			for tid, tc := range collectKeys(txn) {
				if have := pk.keys[tid]; have != nil {
					have.all = have.all || tc.all
					for k := range tc.keys {
						have.keys[k] = true
					}
				} else {
					pk.keys[tid] = tc
				}
			}
		}
	case change.Abort:
		delete(st.partKeys, txn.ID)
	case change.Done:
		pk := st.partKeys[txn.ID]
		delete(st.partKeys, txn.ID)
		if pk == nil {
			pk = &partKeys{keys: txnKeys{}}
		}
		st.s.tr.delivered(xid, func() txnKeys { return pk.keys }, pk.unsure)
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

// emitChunk puts a back-fill chunk that is ready into the stream, if the
// stream is at a transaction boundary (see backfill.go for why any
// boundary after the chunk's read is a safe point).
func (st *stream) emitChunk(ctx context.Context) error {
	if st.cur != nil || st.early != 0 {
		return nil
	}
	var c *chunkOut
	select {
	case c = <-st.s.bfReady:
	default:
		return nil
	}
	if c.err != "" {
		txn := &change.Txn{ID: "backfill", Position: st.delivered, Commit: time.Now(),
			Backfill: &change.Backfill{Source: mustTableID(c.task.Table), ID: c.task.ID, Table: c.table, Where: c.task.Where, After: c.task.After, Rows: c.total, Done: true, Err: c.err}}
		c.res <- chunkResult{}
		return st.deliver(ctx, txn)
	}
	sl := st.s.tr.stale(c.w, c.sn)
	st.s.tr.close(c.w)
	if skipStaleFilter.Load() {
		sl = staleness{keys: map[string]bool{}}
	}
	if sl.retry {
		c.res <- chunkResult{retry: true}
		return nil
	}
	t := c.table
	txn := st.s.newTxn()
	txn.ID, txn.Position, txn.Commit = "backfill", st.delivered, time.Now()
	bf := &change.Backfill{Source: t.ID, ID: c.task.ID, Table: t, Span: span(c), Where: c.task.Where, Lo: c.lo, Hi: c.hi, Prune: c.prune && !sl.all, Done: c.done}
	var emitted int64
	for _, r := range c.rows {
		if sl.all || sl.keys[change.KeyText(t, r)] {
			continue // the target has a newer row of this key
		}
		if err := txn.Add(change.Change{Op: change.Read, Table: t, After: r}); err != nil {
			txn.Close()
			c.res <- chunkResult{retry: true}
			return err
		}
		emitted++
	}
	for k := range sl.keys {
		bf.Keep = append(bf.Keep, keyFromText(t, k))
	}
	if len(c.rows) > 0 {
		bf.After = change.KeyTexts(t, c.rows[len(c.rows)-1])
	} else {
		bf.After = c.task.After
	}
	bf.Rows = c.total + emitted
	txn.Backfill = bf
	st.s.opts.Log.Debug().Stringer("table", t.ID).Int("read", len(c.rows)).Int64("emitted", emitted).Int("stale_keys", len(sl.keys)).
		Bool("stale_all", sl.all).Bool("done", c.done).Bool("spilled", txn.Spilled()).Msg("back-fill chunk emitted")
	closed := make(chan struct{})
	txn.OnClose(func() { close(closed) })
	c.res <- chunkResult{emitted: emitted, closed: closed}
	return st.deliver(ctx, txn)
}

// keyFromText decodes keyText back into a row with the key columns set.
func keyFromText(t *change.Table, k string) change.Row {
	row := make(change.Row, len(t.Columns))
	for i := range row {
		row[i] = change.Value{State: change.Missing}
	}
	b := []byte(k)
	for _, col := range t.Key {
		n, w := uvarint(b)
		b = b[w:]
		if n == 0 {
			row[col] = change.NullValue
			continue
		}
		n--
		if uint64(len(b)) < n {
			break
		}
		row[col] = change.Value{State: change.Present, Data: b[:n:n]}
		b = b[n:]
	}
	return row
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

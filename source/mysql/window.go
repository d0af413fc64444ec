package mysql

import (
	"encoding/binary"
	"sync"

	"github.com/sluicecdc/sluice/pkg/change"
)

// The key-tracking window of a back-fill chunk (see backfill.go). A
// window opens before the chunk's consistent snapshot is taken; from then
// on the stream loop records in it, for the chunk's table, the keys each
// delivered transaction changed together with the binlog position the
// transaction ends at. When the chunk is put into the stream, the window
// is judged against the snapshot's own binlog position P_s: transactions
// after P_s are newer than the chunk's rows of their keys.

// txnMark is what one delivered transaction changed in a window's table.
type txnMark struct {
	pos    Position // where the transaction ends in the binlog
	keys   map[string]bool
	all    bool // a truncate (or a rename of columns): every key
	unsure bool // keys may be missing or include changes that never took effect
}

// tracker holds the open windows. The stream loop adds every delivered
// transaction; the back-fill reader opens and closes windows. Safe for
// concurrent use.
type tracker struct {
	mu      sync.Mutex
	last    Position // the end of the last transaction delivered
	have    bool     // last is set
	windows map[*window]bool
}

// window collects the changes to one table delivered from its opening on.
type window struct {
	table  change.TableID
	before Position // the last transaction delivered before it opened
	have   bool     // before is set
	txns   []txnMark
}

func newTracker() *tracker { return &tracker{windows: map[*window]bool{}} }

// open starts collecting the changes to table.
func (tr *tracker) open(table change.TableID) *window {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	w := &window{table: table, before: tr.last, have: tr.have}
	tr.windows[w] = true
	return w
}

// close stops collecting into w.
func (tr *tracker) close(w *window) {
	if w == nil {
		return
	}
	tr.mu.Lock()
	delete(tr.windows, w)
	tr.mu.Unlock()
}

// txnKeys are the keys one transaction changed, by table.
type txnKeys map[change.TableID]*txnMark

// add notes the keys c changes.
func (k txnKeys) add(c *change.Change) {
	tc := k[c.Table.ID]
	if tc == nil {
		tc = &txnMark{keys: map[string]bool{}}
		k[c.Table.ID] = tc
	}
	switch c.Op {
	case change.Insert, change.Read:
		tc.keys[change.KeyText(c.Table, c.After)] = true
	case change.Delete:
		tc.keys[change.KeyText(c.Table, c.KeyRow())] = true
	case change.Update:
		tc.keys[change.KeyText(c.Table, c.KeyRow())] = true
		tc.keys[change.KeyText(c.Table, c.After)] = true
	default: // Truncate, Rename: the chunk's rows cannot be judged key by key
		tc.all = true
	}
}

// merge adds the keys of o.
func (k txnKeys) merge(o txnKeys) {
	for id, tc := range o {
		have := k[id]
		if have == nil {
			k[id] = tc
			continue
		}
		have.all = have.all || tc.all
		for key := range tc.keys {
			have.keys[key] = true
		}
	}
}

// delivered records a committed transaction handed to the pipeline,
// ending at pos: for every open window, the keys it changed in the
// window's table. keysOf runs only when a window is open, under the lock,
// so that a window opening concurrently cannot miss them. unsure says the
// keys may be incomplete or include changes that never took effect: a
// chunk whose snapshot precedes such a transaction is read again.
func (tr *tracker) delivered(pos Position, keysOf func() txnKeys, unsure bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.last, tr.have = pos, true
	if len(tr.windows) == 0 {
		return
	}
	var keys txnKeys
	if !unsure {
		keys = keysOf()
	}
	for w := range tr.windows {
		if unsure {
			w.txns = append(w.txns, txnMark{pos: pos, all: true, unsure: true})
			continue
		}
		if tc := keys[w.table]; tc != nil {
			w.txns = append(w.txns, txnMark{pos: pos, keys: tc.keys, all: tc.all})
		}
	}
}

// verdict is what a window tells about a chunk whose snapshot is at ps,
// with the stream at point.
type verdict struct {
	wait  bool            // the stream has not reached ps yet: ask again later
	retry bool            // the window cannot be judged: read the chunk again
	keys  map[string]bool // keys changed after ps by delivered transactions
	all   bool            // every key (a truncate after ps)
}

// judge decides about the chunk of window w, read in a snapshot at binlog
// position ps, when the stream has read up to point (at a transaction
// boundary). Every comparison is between positions of one binary log of
// one server and one epoch; anything else (a failover, a binlog reset, a
// position it cannot read) makes the chunk be read again.
func (tr *tracker) judge(w *window, ps, point Position) verdict {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	v := verdict{keys: map[string]bool{}}
	c, ok := comparePoints(point, ps)
	switch {
	case !ok:
		v.retry = true
		return v
	case c < 0:
		v.wait = true
		return v
	}
	if w.have {
		// A transaction the stream delivered before the window opened
		// may end after ps: MariaDB writes a transaction to the binlog
		// (and the stream may read it) before it commits in InnoDB. Its
		// keys were not collected, so the chunk cannot be judged.
		if c, ok := comparePoints(w.before, ps); !ok || c > 0 {
			v.retry = true
			return v
		}
	}
	for _, tc := range w.txns {
		c, ok := comparePoints(tc.pos, ps)
		if !ok || tc.unsure && c > 0 {
			v.retry = true
			return v
		}
		if c <= 0 {
			continue // in the snapshot already
		}
		if tc.all {
			v.all = true
		}
		for k := range tc.keys {
			v.keys[k] = true
		}
	}
	return v
}

// comparePoints orders two positions by binlog file number and offset;
// ok is false unless both name files of the same binary log of the same
// (known) server in the same epoch.
func comparePoints(a, b Position) (int, bool) {
	if a.Server == 0 || a.Server != b.Server || a.Epoch != b.Epoch || baseName(a.File) != baseName(b.File) {
		return 0, false
	}
	fa, ok1 := fileSeq(a.File)
	fb, ok2 := fileSeq(b.File)
	switch {
	case !ok1 || !ok2:
		return 0, false
	case fa != fb:
		return cmp(fa, fb), true
	case a.Pos != b.Pos:
		return cmp(a.Pos, b.Pos), true
	}
	return 0, true
}

// keyFromText decodes keyText back into a row with the key columns set.
func keyFromText(t *change.Table, k string) change.Row {
	row := make(change.Row, len(t.Columns))
	for i := range row {
		row[i] = change.Value{State: change.Missing}
	}
	b := []byte(k)
	for _, col := range t.Key {
		n, w := binary.Uvarint(b)
		if w <= 0 {
			break
		}
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

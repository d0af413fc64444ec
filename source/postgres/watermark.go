package postgres

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicecdc/sluice/pkg/change"
)

// The watermarks of a back-fill chunk (see backfill.go) are not positions
// written into the source but the chunk's own MVCC snapshot: the chunk is
// read in a REPEATABLE READ transaction, and pg_current_snapshot() in it
// says exactly which transactions its rows include. A streamed transaction
// is "between the watermarks" of the chunk when the chunk's snapshot does
// not see it and the stream delivered it before the chunk: its changes are
// newer than the chunk's rows of the same keys and are already on their way
// to the target, so those rows are stale.

// xidSnapshot is a pg_current_snapshot(): every transaction before xmin
// is finished, none from xmax on had finished, and xip were running.
// Only the low 32 bits are kept, as pgoutput sends them; comparisons are
// modulo 2^32 like PostgreSQL's TransactionIdPrecedes.
type xidSnapshot struct {
	xmin, xmax uint32
	xip        map[uint32]bool
}

// parseXidSnapshot reads the text of a pg_snapshot, "xmin:xmax:xip,...".
func parseXidSnapshot(s string) (xidSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return xidSnapshot{}, fmt.Errorf("parse snapshot %q: want xmin:xmax:xip-list", s)
	}
	num := func(t string) (uint32, error) {
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse snapshot %q: %q is not a transaction id", s, t)
		}
		return uint32(n), nil
	}
	var sn xidSnapshot
	var err error
	if sn.xmin, err = num(parts[0]); err != nil {
		return xidSnapshot{}, err
	}
	if sn.xmax, err = num(parts[1]); err != nil {
		return xidSnapshot{}, err
	}
	sn.xip = map[uint32]bool{}
	if parts[2] != "" {
		for _, t := range strings.Split(parts[2], ",") {
			x, err := num(t)
			if err != nil {
				return xidSnapshot{}, err
			}
			sn.xip[x] = true
		}
	}
	return sn, nil
}

// precedes is a < b on the circle of 32-bit transaction ids.
func precedes(a, b uint32) bool { return int32(a-b) < 0 }

// visible tells whether a committed transaction xid is included in the
// snapshot.
func (sn xidSnapshot) visible(xid uint32) bool {
	if precedes(xid, sn.xmin) {
		return true
	}
	return precedes(xid, sn.xmax) && !sn.xip[xid]
}

// uvarint reads what binary.AppendUvarint wrote; (0, len(b)) on bad input.
func uvarint(b []byte) (uint64, int) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return 0, len(b)
	}
	return n, w
}

// touched is what one delivered transaction changed in a table being
// back-filled.
type touched struct {
	xid    uint32
	keys   map[string]bool
	all    bool // a truncate: every key
	unsure bool // its changes may include some that never took effect
}

// recentXids is how many delivered transaction ids the tracker remembers
// to tell whether a chunk's snapshot misses one delivered before the
// chunk's window opened (see tracker.stale).
const recentXids = 1 << 16

// tracker records, for each chunk being read, which keys the delivered
// transactions changed since the chunk's window opened (just before its
// snapshot was taken). The stream loop adds every delivered transaction;
// the back-fill reader opens windows. Safe for concurrent use.
type tracker struct {
	mu      sync.Mutex
	seq     uint64   // transactions delivered so far
	ring    []uint32 // xids of the last recentXids delivered, by seq % len
	windows map[*window]bool
}

// window collects the changes to one table delivered from its opening on.
type window struct {
	table  change.TableID
	opened uint64 // tracker.seq when opened
	txns   []touched
}

func newTracker() *tracker {
	return &tracker{ring: make([]uint32, recentXids), windows: map[*window]bool{}}
}

// open starts collecting the changes to table.
func (tr *tracker) open(table change.TableID) *window {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	w := &window{table: table, opened: tr.seq}
	tr.windows[w] = true
	return w
}

// close stops collecting into w.
func (tr *tracker) close(w *window) {
	tr.mu.Lock()
	delete(tr.windows, w)
	tr.mu.Unlock()
}

// txnKeys are the keys one transaction changed, by table.
type txnKeys map[change.TableID]*touched

// add notes the keys c changes.
func (k txnKeys) add(c *change.Change) {
	tc := k[c.Table.ID]
	if tc == nil {
		tc = &touched{keys: map[string]bool{}}
		k[c.Table.ID] = tc
	}
	switch c.Op {
	case change.Truncate:
		tc.all = true
	case change.Insert, change.Read:
		tc.keys[change.KeyText(c.Table, c.After)] = true
	case change.Delete:
		tc.keys[change.KeyText(c.Table, c.KeyRow())] = true
	case change.Update:
		tc.keys[change.KeyText(c.Table, c.KeyRow())] = true
		tc.keys[change.KeyText(c.Table, c.After)] = true
	}
}

// delivered records a committed transaction handed to the pipeline: its
// xid and, for every open window, the keys it changed in that window's
// table. unsure says keys may be missing, or include changes that never
// took effect (a subtransaction rolled back after its part was delivered):
// such a transaction cannot mark rows stale, so a chunk whose snapshot
// misses it is read again.
// The keys are computed (by keysOf) only when a window is open, under
// the lock, so that a window opening concurrently cannot miss them.
func (tr *tracker) delivered(xid uint32, keysOf func() txnKeys, unsure bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.ring[tr.seq%uint64(len(tr.ring))] = xid
	tr.seq++
	var keys txnKeys
	if len(tr.windows) > 0 && !unsure {
		keys = keysOf()
	}
	for w := range tr.windows {
		tc := keys[w.table]
		if unsure {
			w.txns = append(w.txns, touched{xid: xid, all: true, unsure: true})
			continue
		}
		if tc == nil {
			continue
		}
		w.txns = append(w.txns, touched{xid: xid, keys: tc.keys, all: tc.all})
	}
}

// staleness is what a window tells about a chunk read with snapshot sn.
type staleness struct {
	keys  map[string]bool // keys changed by delivered transactions sn does not see
	all   bool            // every key (a truncate sn does not see)
	retry bool            // the chunk cannot be judged: read it again
}

// stale judges the chunk of window w read with snapshot sn, at the point
// of the stream reached now. Transactions delivered before the window
// opened cannot have changed the rows without sn seeing them, unless one
// was still running when sn was taken although the stream had already
// delivered its commit (a backend waiting for a synchronous standby after
// writing its commit record): the ring of the last recentXids delivered
// xids catches that, and the chunk is read again later. A transaction
// still running after 65536 later commits were decoded, delivered and
// followed by a new snapshot is not a case the ring covers; it would take
// a backend stalled between its commit record and the end of its
// transaction for all that time.
func (tr *tracker) stale(w *window, sn xidSnapshot) staleness {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	st := staleness{keys: map[string]bool{}}
	n := uint64(len(tr.ring))
	for s := w.opened; s > 0 && s+n > tr.seq; s-- {
		if x := tr.ring[(s-1)%n]; !sn.visible(x) {
			st.retry = true
			break
		}
	}
	for _, tc := range w.txns {
		if sn.visible(tc.xid) {
			continue
		}
		if tc.unsure {
			st.retry = true
		}
		if tc.all {
			st.all = true
		}
		for k := range tc.keys {
			st.keys[k] = true
		}
	}
	return st
}

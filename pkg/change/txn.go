package change

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// Txn is one committed source transaction. Its changes are held in memory up
// to a limit and spilled to a temporary file beyond it, so a transaction of
// millions of rows never has to fit in memory. Read them with Each; call Close
// when done to remove the spill file.
type Txn struct {
	ID       string    // source transaction id
	Commit   time.Time // source commit time
	Position Position  // commit position: durable in the target means this may be acked
	Part     Part      // Whole, or which part of a transaction still running
	Sub      string    // the subtransaction a Savepoint or RollbackSub part names
	// Backfill is set on a transaction that carries one chunk of an online
	// back-fill (Op Read rows) instead of a source transaction.
	Backfill *Backfill
	// Signals are the back-fill requests rows of the signal table carried
	// in this transaction (see pkg/signal); the rows themselves are gone.
	Signals []Signal

	release func() // called once by Close (memory accounting of the source)
	mem     []Change
	memSize int
	n       int
	size    int64
	tables  []*Table
	tableIx map[*Table]int
	spill   *os.File
	w       *bufio.Writer
	limit   int
	dir     string
	budget  *Budget // shared by the source's transactions; nil = none
}

// Part says which piece of a transaction a Txn carries. A source may send
// a large transaction while it still runs, in parts: Open parts with changes
// (and Savepoint / RollbackSub for its subtransactions), then Done or Abort.
// Everything else arrives Whole, after its commit.
type Part uint8

const (
	Whole       Part = iota // a whole committed transaction
	Open                    // changes of a transaction still running; more parts follow
	Savepoint               // subtransaction Sub of the running transaction begins
	RollbackSub             // subtransaction Sub rolled back: its changes (and its children's) are void
	Abort                   // the running transaction rolled back: all its parts are void
	Done                    // the running transaction committed; Position and Commit are set
)

// DefaultSpillLimit is how many bytes of changes a transaction keeps in memory
// before it spills to disk.
const DefaultSpillLimit = 32 << 20

// NewTxn starts an empty transaction that spills to dir ("" = os.TempDir)
// once its changes take more than limit bytes (0 = DefaultSpillLimit).
func NewTxn(dir string, limit int) *Txn {
	if limit <= 0 {
		limit = DefaultSpillLimit
	}
	return &Txn{dir: dir, limit: limit}
}

// NewTxnIn is NewTxn whose in-memory changes also count against b, which
// several transactions share: once b is spent, the transaction being added
// to spills, so all of them together keep at most b's limit in memory.
func NewTxnIn(dir string, limit int, b *Budget) *Txn {
	t := NewTxn(dir, limit)
	t.budget = b
	return t
}

// Budget bounds the bytes of changes that several transactions keep in
// memory together. Safe for concurrent use (a source fills transactions
// that the pipeline closes).
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget makes a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Used is how many bytes the budget's transactions keep in memory.
func (b *Budget) Used() int64 { return b.used.Load() }

// take reserves n bytes if they fit.
func (b *Budget) take(n int) bool {
	if b == nil {
		return true
	}
	if b.used.Add(int64(n)) > b.limit {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

func (b *Budget) give(n int) {
	if b != nil && n != 0 {
		b.used.Add(-int64(n))
	}
}

// Len is the number of changes.
func (t *Txn) Len() int { return t.n }

// Size is the approximate number of bytes of all changes.
func (t *Txn) Size() int64 { return t.size }

// Spilled tells whether part of the transaction lives on disk.
func (t *Txn) Spilled() bool { return t.spill != nil }

// Add appends a change. The change's rows must not be modified afterwards.
func (t *Txn) Add(c Change) error {
	sz := c.Size()
	t.n++
	t.size += int64(sz)
	if t.spill == nil && t.memSize+sz <= t.limit && t.budget.take(sz) {
		t.mem = append(t.mem, c)
		t.memSize += sz
		return nil
	}
	if t.spill == nil {
		f, err := os.CreateTemp(t.dir, "sluice-txn-*.spill")
		if err != nil {
			return fmt.Errorf("create spill file: %w", err)
		}
		// Unlinked at once: the file vanishes with the process, even after kill -9.
		_ = os.Remove(f.Name())
		t.spill = f
		t.w = bufio.NewWriterSize(f, 1<<20)
		t.tableIx = map[*Table]int{}
	}
	return t.encode(&c)
}

// Tables returns the table shapes the changes use, each once, in the order
// they are first used, without reading a spilled transaction back. Rename
// changes count too (with their table's shape before the rename).
func (t *Txn) Tables() []*Table {
	var out []*Table // a transaction touches few tables: a list beats a map
	add := func(tb *Table) {
		if !slices.Contains(out, tb) {
			out = append(out, tb)
		}
	}
	var last *Table
	for i := range t.mem {
		if tb := t.mem[i].Table; tb != last {
			last = tb
			add(tb)
		}
	}
	for _, tb := range t.tables {
		add(tb)
	}
	return out
}

// Each calls fn for every change in order. The *Change is only valid during
// the call when it comes from the spill file.
func (t *Txn) Each(fn func(*Change) error) error {
	return t.each(0, 0, len(t.mem), -1, fn)
}

// EachRange calls fn for every change added between the marks from and to
// (from's change first, to's excluded), as Each does.
func (t *Txn) EachRange(from, to Mark, fn func(*Change) error) error {
	return t.each(from.mem, from.off, to.mem, to.off, fn)
}

// each calls fn for mem[memFrom:memTo], then for the spill file's changes
// between the offsets off and end (end < 0: to the end of the file).
func (t *Txn) each(memFrom int, off int64, memTo int, end int64, fn func(*Change) error) error {
	for i := memFrom; i < memTo; i++ {
		if err := fn(&t.mem[i]); err != nil {
			return err
		}
	}
	if t.spill == nil || (end >= 0 && end <= off) {
		return nil
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("flush spill file: %w", err)
	}
	if _, err := t.spill.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("rewind spill file: %w", err)
	}
	defer t.spill.Seek(0, io.SeekEnd) //nolint:errcheck // the next Add or Each reseeks anyway
	var src io.Reader = t.spill
	if end >= 0 {
		src = io.LimitReader(t.spill, end-off)
	}
	r := bufio.NewReaderSize(src, 1<<20)
	var c Change
	for {
		err := t.decode(r, &c)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read spill file: %w", err)
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
}

// OnClose adds a function Close calls once (after those added before), e.g.
// to return the transaction's bytes to the budget of the source that
// produced it.
func (t *Txn) OnClose(f func()) {
	if prev := t.release; prev != nil {
		t.release = func() { prev(); f() }
		return
	}
	t.release = f
}

// Close releases the memory and the spill file.
func (t *Txn) Close() error {
	if t.release != nil {
		t.release()
		t.release = nil
	}
	t.mem = nil
	t.budget.give(t.memSize)
	t.memSize = 0
	if t.spill == nil {
		return nil
	}
	err := t.spill.Close()
	t.spill = nil
	return err
}

func (t *Txn) encode(c *Change) error {
	ix, ok := t.tableIx[c.Table]
	if !ok {
		ix = len(t.tables)
		t.tables = append(t.tables, c.Table)
		t.tableIx[c.Table] = ix
	}
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = byte(c.Op)
	n := binary.PutUvarint(hdr[1:], uint64(ix))
	t.w.Write(hdr[:1+n]) //nolint:errcheck // bufio keeps the first error; Flush reports it
	writeRow(t.w, c.Before)
	writeRow(t.w, c.After)
	return nil
}

// writeRow writes a row as: count+1 (0 = nil row), then per value a state
// byte and, when present, a length and the bytes.
func writeRow(w *bufio.Writer, r Row) {
	var buf [binary.MaxVarintLen64]byte
	if r == nil {
		w.WriteByte(0) //nolint:errcheck
		return
	}
	w.Write(buf[:binary.PutUvarint(buf[:], uint64(len(r))+1)]) //nolint:errcheck
	for _, v := range r {
		w.WriteByte(byte(v.State)) //nolint:errcheck
		if v.State == Present {
			w.Write(buf[:binary.PutUvarint(buf[:], uint64(len(v.Data)))]) //nolint:errcheck
			w.Write(v.Data)                                               //nolint:errcheck
		}
	}
}

func (t *Txn) decode(r *bufio.Reader, c *Change) error {
	op, err := r.ReadByte()
	if err != nil {
		return err
	}
	ix, err := binary.ReadUvarint(r)
	if err != nil || ix >= uint64(len(t.tables)) {
		return fmt.Errorf("bad table index: %v", err)
	}
	c.Op = Op(op)
	c.Table = t.tables[ix]
	if c.Before, err = readRow(r); err != nil {
		return err
	}
	c.After, err = readRow(r)
	return err
}

func readRow(r *bufio.Reader) (Row, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, unexpected(err)
	}
	if n == 0 {
		return nil, nil
	}
	row := make(Row, n-1)
	for i := range row {
		st, err := r.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		row[i].State = State(st)
		if row[i].State != Present {
			continue
		}
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, unexpected(err)
		}
		row[i].Data = make([]byte, l)
		if _, err := io.ReadFull(r, row[i].Data); err != nil {
			return nil, unexpected(err)
		}
	}
	return row, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Mark is a point in a transaction that Rewind can return to.
type Mark struct {
	n, mem, memSize int
	size, off       int64
}

// Mark returns the current end of the transaction.
func (t *Txn) Mark() (Mark, error) {
	m := Mark{n: t.n, mem: len(t.mem), memSize: t.memSize, size: t.size}
	if t.spill != nil {
		if err := t.w.Flush(); err != nil {
			return Mark{}, fmt.Errorf("flush spill file: %w", err)
		}
		off, err := t.spill.Seek(0, io.SeekCurrent)
		if err != nil {
			return Mark{}, fmt.Errorf("mark spill file: %w", err)
		}
		m.off = off
	}
	return m, nil
}

// Rewind drops every change added after m (a rolled-back subtransaction).
func (t *Txn) Rewind(m Mark) error {
	t.n, t.size = m.n, m.size
	t.budget.give(t.memSize - m.memSize)
	t.mem, t.memSize = t.mem[:m.mem], m.memSize
	if t.spill == nil {
		return nil
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("flush spill file: %w", err)
	}
	if err := t.spill.Truncate(m.off); err != nil {
		return fmt.Errorf("rewind spill file: %w", err)
	}
	if _, err := t.spill.Seek(m.off, io.SeekStart); err != nil {
		return fmt.Errorf("rewind spill file: %w", err)
	}
	t.w.Reset(t.spill)
	return nil
}

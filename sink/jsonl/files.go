package jsonl

import (
	"bufio"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
)

// files are the numbered data files of one path (crm.jsonl: crm.000001.jsonl,
// crm.000002.jsonl, ...), the newest one open for appending, and their
// state file.
type files struct {
	path, dir, stem, ext string
	pipeline             string
	maxBytes             int64
	keep                 int
	log                  zerolog.Logger

	lock *os.File
	f    *os.File
	w    *bufio.Writer
	seq  int   // the current file's number
	size int64 // its length, buffered bytes included
	st   state // the state last written
}

// openFiles takes the lock of path, then brings the files back to their
// state: the current file cut back to the state's offset, files created
// after it removed. Without a state file it starts a new file after any
// existing ones (they belong to an earlier, torn-down pipeline).
func openFiles(path, pipeline string, maxBytes int64, keep int, log zerolog.Logger) (_ *files, err error) {
	dir := filepath.Dir(path)
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	fs := &files{path: path, dir: dir, stem: strings.TrimSuffix(base, ext), ext: ext, pipeline: pipeline,
		maxBytes: maxBytes, keep: keep, log: log}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("jsonl: create directory of sink.jsonl.path: %w", err)
	}
	if fs.lock, err = lockFile(path + ".lock"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			fs.lock.Close()
		}
	}()
	st, ok, err := readState(statePath(path))
	if err != nil {
		return nil, err
	}
	if !ok {
		return fs, fs.start()
	}
	if st.Pipeline != pipeline {
		return nil, fmt.Errorf("jsonl: %s belongs to pipeline %q, not %q (use another sink.jsonl.path)", path, st.Pipeline, pipeline)
	}
	return fs, fs.cutTo(st, mark{File: st.File, Offset: st.Offset})
}

// lockFile keeps a second process from writing the same files.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jsonl: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("jsonl: another process writes these files (it holds %s): stop it, or use another sink.jsonl.path", path)
		}
		return nil, fmt.Errorf("jsonl: lock %s: %w", path, err)
	}
	return f, nil
}

// name is the base name of data file n.
func (fs *files) name(n int) string { return fmt.Sprintf("%s.%06d%s", fs.stem, n, fs.ext) }

// number reads a data file's number from its base name.
func (fs *files) number(name string) (int, bool) {
	mid, ok := strings.CutPrefix(name, fs.stem+".")
	if !ok {
		return 0, false
	}
	if mid, ok = strings.CutSuffix(mid, fs.ext); !ok || len(mid) < 6 {
		return 0, false
	}
	n, err := strconv.Atoi(mid)
	return n, err == nil && n > 0
}

// list returns the numbers of the data files present, ascending.
func (fs *files) list() ([]int, error) {
	ents, err := os.ReadDir(fs.dir)
	if err != nil {
		return nil, fmt.Errorf("jsonl: list %s: %w", fs.dir, err)
	}
	var out []int
	for _, e := range ents {
		if n, ok := fs.number(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// start begins a new file after the existing ones, recorded in a new
// state before it is created.
func (fs *files) start() error {
	ns, err := fs.list()
	if err != nil {
		return err
	}
	next := 1
	if len(ns) > 0 {
		next = ns[len(ns)-1] + 1
	}
	st := state{Pipeline: fs.pipeline, File: fs.name(next)}
	if err := writeState(statePath(fs.path), st); err != nil {
		return err
	}
	return fs.cutTo(st, mark{File: st.File})
}

// cutTo makes m the end of the data: files after m's removed, m's file cut
// to m's offset and opened for appending; st becomes the state (written
// when m differs from st's position).
func (fs *files) cutTo(st state, m mark) error {
	n, ok := fs.number(m.File)
	if !ok {
		return fmt.Errorf("jsonl: state file %s names %q, not a data file of %s", statePath(fs.path), m.File, fs.path)
	}
	ns, err := fs.list()
	if err != nil {
		return err
	}
	for _, later := range ns {
		if later > n {
			p := filepath.Join(fs.dir, fs.name(later))
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("jsonl: remove %s (written after the last flush): %w", p, err)
			}
			fs.log.Warn().Str("file", p).Msg("removed a data file created after the last flush")
		}
	}
	p := filepath.Join(fs.dir, m.File)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("jsonl: open %s: %w", p, err)
	}
	info, err := f.Stat()
	if err == nil && info.Size() < m.Offset {
		err = fmt.Errorf("it holds %d bytes, the state file says %d were written: it was cut or replaced; "+
			"run sluice teardown and sluice run --resnapshot to start over", info.Size(), m.Offset)
	}
	if err == nil && info.Size() > m.Offset {
		fs.log.Warn().Str("file", p).Int64("bytes", info.Size()-m.Offset).
			Msg("dropped what was written after the last flush (it is written again)")
		if err = f.Truncate(m.Offset); err == nil {
			err = f.Sync()
		}
	}
	if err == nil {
		_, err = f.Seek(m.Offset, 0)
	}
	if err == nil {
		err = syncDir(fs.dir)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("jsonl: %s: %w", p, err)
	}
	if fs.f != nil {
		fs.f.Close()
	}
	fs.f, fs.seq, fs.size, fs.st = f, n, m.Offset, st
	fs.w = bufio.NewWriterSize(f, 256<<10)
	if st.File != m.File || st.Offset != m.Offset {
		st.File, st.Offset = m.File, m.Offset
		if err := writeState(statePath(fs.path), st); err != nil {
			return err
		}
		fs.st = st
	}
	return nil
}

func (fs *files) write(p []byte) error {
	n, err := fs.w.Write(p)
	fs.size += int64(n)
	return err
}

// boundary is called between transactions: a full file is rotated.
func (fs *files) boundary() error {
	if fs.maxBytes <= 0 || fs.size < fs.maxBytes {
		return nil
	}
	err := fs.w.Flush()
	if err == nil {
		err = fs.f.Sync()
	}
	if cerr := fs.f.Close(); err == nil {
		err = cerr
	}
	fs.f = nil
	if err != nil {
		return fmt.Errorf("jsonl: rotate: %w", err)
	}
	p := filepath.Join(fs.dir, fs.name(fs.seq+1))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("jsonl: rotate: %w", err)
	}
	fs.f, fs.seq, fs.size = f, fs.seq+1, 0
	fs.w.Reset(f)
	return nil
}

// commit makes everything written durable, then records pos in the state
// file, with the start of the last snapshot while snapshot says it may
// still be copied again.
func (fs *files) commit(pos string, snapshot bool) error {
	err := fs.w.Flush()
	if err == nil {
		err = fs.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("jsonl: flush %s: %w", fs.f.Name(), err)
	}
	st := state{Pipeline: fs.pipeline, Position: pos, File: fs.name(fs.seq), Offset: fs.size}
	if snapshot {
		st.Snapshot = fs.st.Snapshot
	}
	if st.File != fs.st.File {
		if err := syncDir(fs.dir); err != nil { // the new file's entry, before the state names it
			return fmt.Errorf("jsonl: flush %s: %w", fs.dir, err)
		}
	}
	if err := writeState(statePath(fs.path), st); err != nil {
		return err
	}
	fs.st = st
	return fs.prune()
}

// prune removes the oldest files beyond keep, never one a snapshot may be
// cut back into.
func (fs *files) prune() error {
	if fs.keep <= 0 {
		return nil
	}
	ns, err := fs.list()
	if err != nil {
		return err
	}
	last := fs.seq - fs.keep   // the newest file to remove
	if fs.st.Snapshot != nil { // a snapshot that may be cut back needs its first file
		if m, ok := fs.number(fs.st.Snapshot.File); ok {
			last = min(last, m-1)
		}
	}
	for _, n := range ns {
		if n > last {
			break
		}
		p := filepath.Join(fs.dir, fs.name(n))
		if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("jsonl: remove old file %s (keep %d): %w", p, fs.keep, err)
		}
	}
	return nil
}

// prepareSnapshot forgets the position. The rows of an earlier snapshot
// whose start is still marked (it did not finish, or no transaction
// followed it, so the pipeline may not have recorded that it finished) are
// cut off first, so a snapshot started over appears once.
func (fs *files) prepareSnapshot() error {
	if err := fs.w.Flush(); err != nil {
		return err
	}
	m := mark{File: fs.name(fs.seq), Offset: fs.size}
	if fs.st.Snapshot != nil {
		m = *fs.st.Snapshot
		fs.log.Info().Str("file", m.File).Int64("offset", m.Offset).Msg("cutting the earlier snapshot's rows off; copying again")
	}
	st := state{Pipeline: fs.pipeline, File: m.File, Offset: m.Offset, Snapshot: &m}
	if err := writeState(statePath(fs.path), st); err != nil { // first: the data ends at m
		return err
	}
	return fs.cutTo(st, m)
}

func (fs *files) close() error {
	if fs.f != nil {
		fs.f.Close() // what was not committed is cut off at the next start
		fs.f = nil
	}
	return fs.lock.Close()
}

// crash leaves what was written in the file, uncommitted, as a killed
// process would.
func (fs *files) crash() {
	if fs.f != nil {
		_ = fs.w.Flush()
	}
	_ = fs.close()
}

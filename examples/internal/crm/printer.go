package crm

import (
	"fmt"
	"io"
	"sync"
)

// Printer writes whole lines from several goroutines without mixing them.
type Printer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewPrinter prints to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{w: w} }

// Line writes prefix and s as one line.
func (p *Printer) Line(prefix, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s%s\n", prefix, s)
}

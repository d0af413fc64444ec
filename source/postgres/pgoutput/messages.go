package pgoutput

// Per-message decoders. Each reads its fields in wire order after the type
// byte; Parse checks d.err (and trailing bytes) afterwards, so these only
// guard what must be checked before it is used: counts before allocating,
// and marker bytes that decide what comes next.

// Smallest wire size of one repeated element, used to bound counts.
const (
	minRelationColumn = 1 + 1 + 4 + 4 // flags, empty name + NUL, type OID, typmod
	minTupleColumn    = 1             // kind byte of 'n' or 'u'
	relIDSize         = 4
)

// xid reads the leading transaction id that streamed messages carry.
func (d *decoder) xid(inStream bool) uint32 {
	if !inStream {
		return 0
	}
	return d.u32("xid")
}

func (d *decoder) begin() *Begin {
	return &Begin{
		FinalLSN:   d.u64("final LSN"),
		CommitTime: d.timestamp("commit time"),
		Xid:        d.u32("xid"),
	}
}

func (d *decoder) commit() *Commit {
	return &Commit{
		Flags:      d.u8("flags"),
		CommitLSN:  d.u64("commit LSN"),
		EndLSN:     d.u64("end LSN"),
		CommitTime: d.timestamp("commit time"),
	}
}

func (d *decoder) origin() *Origin {
	return &Origin{
		CommitLSN: d.u64("commit LSN"),
		Name:      d.cstring("origin name"),
	}
}

func (d *decoder) relation(inStream bool) *Relation {
	r := &Relation{
		Xid:             d.xid(inStream),
		RelationID:      d.u32("relation id"),
		Namespace:       d.cstring("namespace"),
		Name:            d.cstring("relation name"),
		ReplicaIdentity: d.u8("replica identity"),
	}
	n := d.u16("column count")
	if !d.fits(uint64(n), minRelationColumn, "column count") {
		return r
	}
	if n > 0 {
		r.Columns = make([]RelationColumn, n)
	}
	d.item = "column"
	for i := range r.Columns {
		d.idx = i
		c := &r.Columns[i]
		c.Flags = d.u8("flags")
		c.Name = d.cstring("name")
		c.TypeOID = d.u32("type OID")
		c.TypeMod = int32(d.u32("type modifier"))
		if d.err != nil {
			break
		}
	}
	d.item = ""
	return r
}

func (d *decoder) typeMsg(inStream bool) *TypeMsg {
	return &TypeMsg{
		Xid:       d.xid(inStream),
		TypeOID:   d.u32("type OID"),
		Namespace: d.cstring("namespace"),
		Name:      d.cstring("type name"),
	}
}

// tuple reads TupleData: Int16 count, then per column a kind byte and, for
// 't' and 'b', an Int32 length and the bytes. which ("new", "old") labels
// errors.
// tuple reads TupleData. The field names are constants (built per call
// they would cost more than the decoding): which is "new tuple" or "old tuple".
func (d *decoder) tuple(which string) Tuple {
	countField, colItem := "new tuple column count", "new tuple column"
	if which == "old" {
		countField, colItem = "old tuple column count", "old tuple column"
	}
	n := d.u16(countField)
	if !d.fits(uint64(n), minTupleColumn, countField) {
		return nil
	}
	t := make(Tuple, n)
	d.item = colItem
	for i := range t {
		d.idx = i
		k := d.u8("kind")
		switch k {
		case 'n', 'u':
			t[i] = TupleColumn{Kind: k}
		case 't', 'b':
			t[i] = TupleColumn{Kind: k, Data: d.lenBytes("data length", "data")}
		default:
			d.failf("unknown kind %q", k)
		}
		if d.err != nil {
			break
		}
	}
	d.item = ""
	return t
}

// marker reads a Byte1 that must be one of want, e.g. the 'N' before a new
// tuple; anything else means we have lost track of the layout.
func (d *decoder) marker(field, want string) byte {
	b := d.u8(field)
	if d.err == nil && !containsByte(want, b) {
		d.failf("%s: got %q, want one of %q", field, b, want)
	}
	return b
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

func (d *decoder) insert(inStream bool) *Insert {
	m := &Insert{Xid: d.xid(inStream), RelationID: d.u32("relation id")}
	d.marker("new tuple marker", "N")
	m.New = d.tuple("new")
	return m
}

func (d *decoder) update(inStream bool) *Update {
	m := &Update{Xid: d.xid(inStream), RelationID: d.u32("relation id")}
	// The old tuple is optional: the next byte is 'K' or 'O' if present,
	// otherwise already the 'N' of the new tuple.
	if k := d.marker("tuple marker", "KON"); k == 'K' || k == 'O' {
		m.OldKind = k
		m.Old = d.tuple("old")
		d.marker("new tuple marker", "N")
	}
	m.New = d.tuple("new")
	return m
}

func (d *decoder) delete(inStream bool) *Delete {
	m := &Delete{Xid: d.xid(inStream), RelationID: d.u32("relation id")}
	m.OldKind = d.marker("old tuple marker", "KO")
	m.Old = d.tuple("old")
	return m
}

func (d *decoder) truncate(inStream bool) *Truncate {
	m := &Truncate{Xid: d.xid(inStream)}
	// Int32 on the wire; a negative count reads as a huge uint32 and fails
	// the fits check below.
	n := d.u32("relation count")
	m.Options = d.u8("options")
	if !d.fits(uint64(n), relIDSize, "relation count") {
		return m
	}
	if n > 0 {
		m.RelationIDs = make([]uint32, n)
	}
	d.item = "relation"
	for i := range m.RelationIDs {
		d.idx = i
		m.RelationIDs[i] = d.u32("relation id")
	}
	d.item = ""
	return m
}

func (d *decoder) message(inStream bool) *LogicalMessage {
	return &LogicalMessage{
		Xid:     d.xid(inStream),
		Flags:   d.u8("flags"),
		LSN:     d.u64("LSN"),
		Prefix:  d.cstring("prefix"),
		Content: d.lenBytes("content length", "content"),
	}
}

func (d *decoder) streamStart() *StreamStart {
	return &StreamStart{
		Xid: d.u32("xid"),
		// PostgreSQL's own reader treats exactly 1 as true.
		FirstSegment: d.u8("first segment") == 1,
	}
}

func (d *decoder) streamCommit() *StreamCommit {
	return &StreamCommit{
		Xid:        d.u32("xid"),
		Flags:      d.u8("flags"),
		CommitLSN:  d.u64("commit LSN"),
		EndLSN:     d.u64("end LSN"),
		CommitTime: d.timestamp("commit time"),
	}
}

func (d *decoder) streamAbort() *StreamAbort {
	return &StreamAbort{
		Xid:    d.u32("xid"),
		SubXid: d.u32("subtransaction xid"),
	}
}

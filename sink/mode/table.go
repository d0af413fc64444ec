package mode

// PositionHash is a generated column of history and append tables: a hash
// of the source position, on which (with the change index) their unique
// key is built. An index entry cannot hold a whole long position (the GTID
// set of a long-lived MySQL cluster runs to thousands of characters), and
// a prefix of it would make two positions that share it one. Each dialect
// picks its hash function.
const PositionHash = "_source_position_sha"

// UniqueColumns are the columns whose unique index makes writes
// idempotent: the source's key when merging, the change's position (its
// hash, unless the table is an old one, made before PositionHash) and
// index otherwise.
func (sh *Shape) UniqueColumns(oldPositions bool) []string {
	switch {
	case sh.Mode != Merge && oldPositions:
		return []string{Position, ChangeIndex}
	case sh.Mode != Merge:
		return []string{PositionHash, ChangeIndex}
	}
	keys := make([]string, len(sh.Table.Key))
	for i, k := range sh.Table.Key {
		keys[i] = sh.Table.Columns[k].Name
	}
	return keys
}

// ColumnDefs lists the column definitions of a new target table in table
// order: the source's columns, then the mode's. column defines column i of
// sh.Table (a mode column rows carry has one there too); managed defines
// a column the target fills itself.
func (sh *Shape) ColumnDefs(column func(i int) string, managed func(Column) string) []string {
	var defs []string
	for i := range sh.N {
		defs = append(defs, column(i))
	}
	for _, c := range sh.Layout() {
		if c.Kind.Managed() {
			defs = append(defs, managed(c))
			continue
		}
		defs = append(defs, column(sh.Table.ColumnIndex(c.Name)))
	}
	return defs
}

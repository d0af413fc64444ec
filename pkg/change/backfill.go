package change

import "strings"

// Backfill describes one chunk of an online back-fill of a table: the
// transaction carrying it holds the chunk's rows (Op Read) that are still
// current at the point of the stream where the source put it (see
// source/postgres/backfill.go for why that point is safe).
type Backfill struct {
	Source TableID // the source table, which the progress names
	ID     string  // the back-fill request's id (kept in the checkpoint)
	Table  *Table  // the table's shape as the chunk's rows have it (after transforms)
	Where  string  // the row filter the back-fill was asked for ("" = every row)
	// Span names the chunk for targets that record where each row came
	// from (history and append modes' position column): the back-fill
	// request and the chunk's key range, the same when the chunk is read
	// again after a crash with the same bounds.
	Span string
	// Lo and Hi bound the chunk's key range: keys above Lo (nil: from the
	// first key) up to and including Hi (nil: to the last). Only the key
	// columns are set.
	Lo, Hi Row
	// Prune asks a merge sink to delete the target rows whose key lies in
	// the range but is neither among the chunk's rows nor in Keep: rows the
	// source no longer has. Off when the range cannot be compared the same
	// way on the target (a row filter, a collatable key, reshaped rows).
	Prune bool
	// Keep are keys (key columns set) that the stream changed after the
	// chunk's snapshot and before this point: the target's row is newer
	// than the snapshot's, so the chunk leaves them alone.
	Keep []Row
	// After is the text of the key values of the chunk's last key, where
	// the next chunk starts (the progress a checkpoint keeps).
	After []string
	Rows  int64  // rows emitted for the table so far, this chunk included
	Done  bool   // the table's last chunk: the back-fill of the table ends
	Err   string // set with Done when the back-fill was given up, saying why
}

// IntegerKey tells whether every key column of t is an integer (of its
// source's dialect): such keys order and print the same on every engine,
// so a target can compare a chunk's key range (Backfill.Lo, Hi) itself.
func IntegerKey(t *Table) bool {
	if !t.HasKey() {
		return false
	}
	for _, k := range t.Key {
		typ := t.Columns[k].Type
		switch t.Dialect {
		case Postgres:
			switch typ {
			case "smallint", "integer", "bigint":
				continue
			}
		case MySQL:
			switch strings.TrimSuffix(typ, " unsigned") {
			case "tinyint", "smallint", "mediumint", "int", "bigint":
				continue
			}
		}
		return false
	}
	return true
}

// Signal is a back-fill request read from a row inserted into the source's
// signal table: the same request as `sluice snapshot --table Table --where
// Where`. ID is the row's id, which names the request in the checkpoint.
type Signal struct {
	ID    string
	Table string // schema.table as the row names it
	Where string
	Err   string // why the row is not a request (a missing column, an empty table name)
}

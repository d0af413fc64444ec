package schemachange

import "github.com/sluicecdc/sluice/pkg/change"

// Action is what a sink does about one target column.
type Action uint8

const (
	Keep  Action = iota // nothing: the target column holds the values
	Alter               // change the target column's type to the new one (a widening)
	Halt                // stop with an *Error
)

// Verdict is the decision for one column, with what the error needs.
type Verdict struct {
	Action   Action
	Widening bool // for Halt: the change is a widening (stopped by Stop)
}

// Decide tells what to do with a target column of type target when the
// source column's type (mapped into the target's dialect d) is cur, and
// was prev when the sink last prepared the table in this run ("" when it
// has not: after a restart only the target's type is known).
//
//   - The target's type is cur: Keep.
//   - cur is a widening of the target's type: the target must follow
//     before it can hold the new values: Alter under Follow, Halt under
//     Stop, Keep under Ignore.
//   - Otherwise, when the source changed the column in this run (prev
//     differs from cur): Keep when the target already holds every value
//     of cur and the source widened (e.g. varchar(10) → varchar(20) into a
//     text column); else (a narrowing, or a change of kind) Halt under
//     Follow and Stop, Keep under Ignore. A restart forgets prev, so such
//     a change stops a run once.
//   - Otherwise (no change seen, the target just differs, e.g. a table
//     made by hand): Keep, as before this package existed.
func Decide(d change.Dialect, p Policy, target, prev, cur string) Verdict {
	if Same(d, target, cur) {
		return Verdict{}
	}
	if Widens(d, target, cur) {
		switch p {
		case Follow:
			return Verdict{Action: Alter}
		case Stop:
			return Verdict{Action: Halt, Widening: true}
		}
		return Verdict{}
	}
	if prev == "" || Same(d, prev, cur) || p == Ignore {
		return Verdict{}
	}
	if Widens(d, cur, target) && Widens(d, prev, cur) {
		return Verdict{} // the source widened, the target was wider already
	}
	return Verdict{Action: Halt}
}

// Same tells whether two type texts of dialect d name the same type
// (spelling, aliases and MySQL display widths aside).
func Same(d change.Dialect, a, b string) bool {
	if d == change.MySQL {
		return parseMy(a) == parseMy(b)
	}
	return parsePg(a) == parsePg(b)
}

// Widens tells whether changing a column of dialect d from type from to
// type to keeps every value exactly and is safe to run on a target
// (from and to differ).
func Widens(d change.Dialect, from, to string) bool {
	if Same(d, from, to) {
		return false
	}
	if d == change.MySQL {
		return widensMy(parseMy(from), parseMy(to))
	}
	return widensPg(parsePg(from), parsePg(to))
}

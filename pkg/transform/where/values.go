package where

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Var is the value a filter sees for one present column value:
//
//	SQL NULL                                      nil
//	integer types (PostgreSQL smallint, integer,
//	  bigint, oid; MySQL tinyint ... bigint, year) int
//	MySQL bigint unsigned                          uint64
//	numeric, decimal, real, double, float          float64 (NaN, ±Inf included)
//	PostgreSQL boolean                             bool
//	date, timestamp, datetime, timestamptz         time.Time in UTC (no zone: read as UTC);
//	                                               -infinity and MySQL zero dates: time.Time{}
//	                                               (0001-01-01), infinity: 9999-12-31T23:59:59.999999999Z
//	everything else (text, enum, json, uuid,
//	  time, interval, bytes, arrays, ...)          string: the source's text (PostgreSQL bytea as \x hex)
//
// The value must be Present or Null; the caller handles Unchanged and
// Missing. An error means the source sent a value its type does not allow.
func Var(d change.Dialect, col *change.Column, v change.Value) (any, error) {
	if v.State == change.Null {
		return nil, nil
	}
	s := string(v.Data)
	switch kindOf(d, col.Type) {
	case kInt:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(n), nil
		}
		return nil, errors.New("is not an integer")
	case kUint:
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n, nil
		}
		return nil, errors.New("is not an unsigned integer")
	case kFloat:
		if f, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			return f, nil
		}
		return nil, errors.New("is not a number")
	case kBool:
		switch s {
		case "t", "true":
			return true, nil
		case "f", "false":
			return false, nil
		}
		return nil, errors.New("is not a boolean")
	case kTime:
		t, ok := parseTime(s)
		if !ok {
			return nil, errors.New("is not a date or timestamp")
		}
		return t, nil
	}
	return s, nil
}

type kind uint8

const (
	kString kind = iota
	kInt
	kUint
	kFloat
	kBool
	kTime
)

// kindOf classifies a column type by its name without arguments:
// "numeric(12,2)" is numeric, "int unsigned zerofill" is int (unsigned).
func kindOf(d change.Dialect, typ string) kind {
	if strings.HasSuffix(typ, "]") {
		return kString // a PostgreSQL array
	}
	base, _, _ := strings.Cut(typ, "(")
	base = strings.TrimSpace(base)
	if d == change.MySQL {
		name, _, _ := strings.Cut(base, " ")
		switch name {
		case "tinyint", "smallint", "mediumint", "int", "integer", "year":
			return kInt
		case "bigint":
			if strings.Contains(typ, "unsigned") {
				return kUint
			}
			return kInt
		case "decimal", "numeric", "float", "double", "real":
			return kFloat
		case "date", "datetime", "timestamp":
			return kTime
		}
		return kString
	}
	switch base {
	case "smallint", "integer", "bigint", "oid":
		return kInt
	case "numeric", "real", "double precision":
		return kFloat
	case "boolean":
		return kBool
	case "date", "timestamp", "timestamp without time zone", "timestamp with time zone":
		return kTime
	}
	return kString
}

// The times infinity and -infinity (and MySQL's zero dates) stand for.
var (
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	minTime = time.Time{}
)

// parseTime reads PostgreSQL (ISO DateStyle, any offset, BC, infinity) and
// MySQL date and timestamp texts: "2024-01-31", "2024-01-31 13:45:00.5",
// "2024-01-31 13:45:00+05:30", "0044-03-15 BC", "0000-00-00 00:00:00".
func parseTime(s string) (time.Time, bool) {
	switch s {
	case "infinity":
		return maxTime, true
	case "-infinity":
		return minTime, true
	}
	bc := false
	if rest, ok := strings.CutSuffix(s, " BC"); ok {
		s, bc = rest, true
	}
	date, clock, _ := strings.Cut(s, " ")
	ys, rest, ok1 := strings.Cut(date, "-")
	ms, ds, ok2 := strings.Cut(rest, "-")
	y, e1 := strconv.Atoi(ys)
	mo, e2 := strconv.Atoi(ms)
	d, e3 := strconv.Atoi(ds)
	if !ok1 || !ok2 || e1 != nil || e2 != nil || e3 != nil || y < 0 || mo < 0 || mo > 12 || d < 0 || d > 31 {
		return time.Time{}, false
	}
	if y == 0 || mo == 0 || d == 0 {
		if bc {
			return time.Time{}, false
		}
		return minTime, true // MySQL zero or partly zero date
	}
	if bc {
		y = 1 - y // 1 BC is year 0
	}
	var h, mi, sec, nsec, off int
	if clock != "" {
		var ok bool
		if h, mi, sec, nsec, off, ok = parseClock(clock); !ok {
			return time.Time{}, false
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), true
}

// parseClock reads "13:45:00[.frac][+HH[:MM[:SS]]]"; off is in seconds.
func parseClock(s string) (h, m, sec, nsec, off int, ok bool) {
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		parts := strings.Split(s[i+1:], ":")
		if len(parts) > 3 {
			return 0, 0, 0, 0, 0, false
		}
		for j, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 99 {
				return 0, 0, 0, 0, 0, false
			}
			off += n * []int{3600, 60, 1}[j]
		}
		off *= sign
		s = s[:i]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	parts := strings.Split(whole, ":")
	if len(parts) != 3 {
		return 0, 0, 0, 0, 0, false
	}
	var nums [3]int
	for j, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 60 {
			return 0, 0, 0, 0, 0, false
		}
		nums[j] = n
	}
	if hasFrac {
		if frac == "" || len(frac) > 9 {
			return 0, 0, 0, 0, 0, false
		}
		n, err := strconv.Atoi(frac)
		if err != nil || n < 0 {
			return 0, 0, 0, 0, 0, false
		}
		nsec = n * int(math.Pow10(9-len(frac)))
	}
	return nums[0], nums[1], nums[2], nsec, off, true
}

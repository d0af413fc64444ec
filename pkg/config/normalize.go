package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// describe names a value's YAML type for a message, with the value itself
// unless the key holds a secret.
func describe(key string, v any) string {
	var what string
	switch v.(type) {
	case bool:
		what = "a boolean"
	case int, int64, uint64, float64:
		what = "a number"
	case []any:
		what = "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	case string:
		what = "the text"
	default:
		what = fmt.Sprintf("a %T", v)
	}
	if secret(key) {
		return what
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%s %q", what, s)
	}
	return fmt.Sprintf("%s %v", what, v)
}

// normalize turns the merged value of a leaf (from the file, an override or
// a default) into the Go type of its field, so decoding is never weakly
// typed: `snapshot: true` or `wait: 500` are errors, not "true" or 500ns.
// from says where the value came from, for the message.
func normalize(l leaf, v any, from string) (any, error) {
	bad := func(want string) error {
		return fmt.Errorf("%s%s: must be %s, not %s (e.g. %s)", l.key, from, want, describe(l.key, v), l.example)
	}
	switch l.kind {
	case kString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, bad("text")
	case kList:
		return normalizeList(l, v, from)
	case kBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string: // from an override or ${VAR}
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return b, nil
			}
		}
		return nil, bad("true or false")
	case kInt, kUint32:
		lo, hi := int64(math.MinInt), int64(math.MaxInt)
		if l.kind == kUint32 {
			lo, hi = 0, math.MaxUint32
		}
		n, ok := wholeNumber(v)
		if !ok {
			return nil, bad("a whole number")
		}
		if n < lo || n > hi {
			return nil, fmt.Errorf("%s%s: %d is out of range (%d..%d)", l.key, from, n, lo, hi)
		}
		if l.kind == kUint32 {
			return uint32(n), nil
		}
		return int(n), nil
	case kSize:
		if s, ok := v.(string); ok {
			n, err := parseSize(s)
			if err != nil {
				return nil, fmt.Errorf("%s%s: %v (e.g. %s or 1048576)", l.key, from, err, l.example)
			}
			return n, nil
		}
		if n, ok := wholeNumber(v); ok {
			return n, nil
		}
		return nil, bad("a size")
	case kDuration:
		switch x := v.(type) {
		case time.Duration:
			return x, nil
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(x))
			if err == nil {
				return d, nil
			}
			return nil, fmt.Errorf("%s%s: %q is not a duration (e.g. 250ms, 2s or 1m)", l.key, from, x)
		}
		if _, ok := wholeNumber(v); ok {
			return nil, fmt.Errorf("%s%s: %v needs a unit (e.g. %vms or %vs)", l.key, from, v, v, v)
		}
		return nil, bad("a duration")
	}
	panic("unreachable")
}

func normalizeList(l leaf, v any, from string) (any, error) {
	switch x := v.(type) {
	case []string:
		return x, nil
	case string:
		return splitList(x), nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d]%s: must be text, not %s (e.g. public.customers)", l.key, i, from, describe(l.key, e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s%s: must be a list, not %s (e.g. %s)", l.key, from, describe(l.key, v), l.example)
}

// splitList reads the comma-separated form of a list, as in
// SLUICE_SOURCE_TABLES=public.*,crm.*.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// wholeNumber accepts YAML integers (and floats without a fraction) and
// decimal digit strings (from ${VAR} or an override). Strings are read in
// base 10 only: "010" is 10, not 8.
func wholeNumber(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case float64: // YAML reads 5e4 as a float
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

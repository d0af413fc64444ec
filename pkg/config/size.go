package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the units parseSize accepts, matched case-insensitively:
// the SI ones count in 1000s, the IEC ones (KiB, MiB, ...) in 1024s.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// parseSize reads a byte count: a whole number with an optional unit,
// e.g. "1048576", "64MiB", "16MB", "512 KiB".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	digits := len(t) - len(strings.TrimLeft(t, "0123456789"))
	unit := strings.ToLower(strings.TrimSpace(t[digits:]))
	mult, ok := sizeUnits[unit]
	if digits == 0 || !ok {
		return 0, fmt.Errorf("%q is not a size (a whole number of bytes, optionally with a unit B, KB, MB, GB, KiB, MiB or GiB)", s)
	}
	n, err := strconv.ParseInt(t[:digits], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// formatSize writes n in the largest IEC unit that divides it exactly.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

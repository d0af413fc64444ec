package envelope

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"strconv"

	"github.com/sluicecdc/sluice/pkg/typemap"
)

const (
	microsPerSecond = int64(1_000_000)
	microsPerDay    = 86_400 * microsPerSecond
)

var (
	errDate        = errors.New("not a date text (YYYY-MM-DD)")
	errTime        = errors.New("not a time text (HH:MM:SS[.ffffff])")
	errTimestamp   = errors.New("not a timestamp text")
	errFraction    = errors.New("more than six fractional-second digits")
	errInterval    = errors.New("not a PostgreSQL interval text (IntervalStyle postgres)")
	errMicroRange  = errors.New("timestamp outside the range of int64 microseconds since 1970 (about years -290308 to 294247)")
	errInvalidDate = errors.New("not a calendar date (MySQL ALLOW_INVALID_DATES)")
)

// Debezium's PostgreSQL values for infinite dates and timestamps.
// Timestamps: those of the PostgreSQL JDBC driver
// (PGStatement.DATE_POSITIVE_INFINITY and DATE_NEGATIVE_INFINITY), read as
// microseconds. Dates: the epoch days of the LocalDates Debezium maps them
// to (-5877611-06-21 and -22), which are PostgreSQL's internal infinite
// dates (int32 days since 2000) rebased to 1970 and wrapped to int32: so
// infinity comes out below -infinity, exactly as Debezium writes them.
const (
	pgInfinityMicros    = int64(9223372036825200000)
	pgNegInfinityMicros = int64(-9223372036832400000)
	pgInfinityDays      = int64(-2147472692)
	pgNegInfinityDays   = int64(-2147472691)
)

// digits reads an unsigned decimal of 1 to 9 digits.
func digits(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// fracMicros turns fraction digits into microseconds.
func fracMicros(frac []byte) (int64, error) {
	if len(frac) > 6 {
		for _, c := range frac[6:] {
			if c != '0' {
				return 0, errFraction
			}
		}
		frac = frac[:6]
	}
	var us int64
	for i := 0; i < 6; i++ {
		us *= 10
		if i < len(frac) {
			us += int64(frac[i] - '0')
		}
	}
	return us, nil
}

// cutBC removes PostgreSQL's " BC" suffix.
func cutBC(s []byte) ([]byte, bool) {
	if bytes.HasSuffix(s, []byte(" BC")) {
		return s[:len(s)-3], true
	}
	return s, false
}

// parseDatePrefix reads "Y...Y-MM-DD" (four or more year digits) at the
// start of s, and returns the year as written and the rest.
func parseDatePrefix(s []byte, minYearDigits int) (y, m, d int64, rest []byte, ok bool) {
	i := bytes.IndexByte(s, '-')
	if i < minYearDigits || len(s) < i+6 || s[i+3] != '-' {
		return 0, 0, 0, nil, false
	}
	var ok1, ok2, ok3 bool
	y, ok1 = digits(s[:i])
	m, ok2 = digits(s[i+1 : i+3])
	d, ok3 = digits(s[i+4 : i+6])
	return y, m, d, s[i+6:], ok1 && ok2 && ok3
}

// pgDays reads a PostgreSQL date text ("2024-02-29", "4713-01-01 BC") as
// days since 1970-01-01. infinity maps as Debezium maps it.
func pgDays(s []byte) (int64, error) {
	switch string(s) {
	case "infinity":
		return pgInfinityDays, nil
	case "-infinity":
		return pgNegInfinityDays, nil
	}
	s, bc := cutBC(s)
	y, m, d, rest, ok := parseDatePrefix(s, 4)
	if !ok || len(rest) != 0 {
		return 0, errDate
	}
	if bc {
		y = 1 - y
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, errDate
	}
	return daysFromCivil(y, m, d), nil
}

// clockMicros reads "HH:MM:SS[.f]" as microseconds after midnight (hours
// up to maxHour).
func clockMicros(s []byte, maxHour int) (int64, error) {
	h, m, sec, frac, ok := typemap.ParseClock(s, false)
	if !ok || h > maxHour {
		return 0, errTime
	}
	us, err := fracMicros(frac)
	if err != nil {
		return 0, err
	}
	total := (int64(h)*3600+int64(m)*60+int64(sec))*microsPerSecond + us
	if total > microsPerDay {
		return 0, errTime
	}
	return total, nil
}

// pgTimestampMicros reads a PostgreSQL timestamp (tz: timestamptz, with a
// UTC offset) as microseconds since 1970-01-01 UTC. infinite reports
// ±infinity (+1 / -1) instead.
func pgTimestampMicros(s []byte, tz bool) (us int64, infinite int, err error) {
	switch string(s) {
	case "infinity":
		return 0, 1, nil
	case "-infinity":
		return 0, -1, nil
	}
	s, bc := cutBC(s)
	y, m, d, rest, ok := parseDatePrefix(s, 4)
	if !ok || len(rest) < 9 || rest[0] != ' ' {
		return 0, 0, errTimestamp
	}
	rest = rest[1:]
	offset := 0
	if tz {
		i := bytes.LastIndexAny(rest, "+-")
		if i < 8 {
			return 0, 0, errTimestamp
		}
		if offset, ok = typemap.ParseUTCOffset(rest[i:]); !ok {
			return 0, 0, errTimestamp
		}
		rest = rest[:i]
	}
	if bc {
		y = 1 - y
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, errTimestamp
	}
	tod, err := clockMicros(rest, 23)
	if err != nil {
		return 0, 0, errTimestamp
	}
	us, err = civilMicros(daysFromCivil(y, m, d), tod-int64(offset)*microsPerSecond)
	return us, 0, err
}

// civilMicros is days*86400e6 + tod, or an error beyond int64.
func civilMicros(days, tod int64) (int64, error) {
	const maxDays = math.MaxInt64/microsPerDay - 1
	if days > maxDays || days < -maxDays {
		return 0, errMicroRange
	}
	base := days * microsPerDay
	if (tod > 0 && base > math.MaxInt64-tod) || (tod < 0 && base < math.MinInt64-tod) {
		return 0, errMicroRange
	}
	return base + tod, nil
}

// myDate reads a MySQL date text. zero reports a zero or partly zero date
// (0000-00-00, 2024-00-10), which Debezium turns into null (or the epoch
// in a NOT NULL column).
func myDate(s []byte) (days int64, zero bool, rest []byte, err error) {
	y, m, d, rest, ok := parseDatePrefix(s, 4)
	if !ok {
		return 0, false, nil, errDate
	}
	if y == 0 || m == 0 || d == 0 {
		return 0, true, rest, nil
	}
	if m > 12 || d > daysIn(y, m) {
		return 0, false, nil, errInvalidDate
	}
	return daysFromCivil(y, m, d), false, rest, nil
}

// myDatetimeMicros reads a MySQL datetime or timestamp text (in UTC for a
// timestamp) as microseconds since 1970-01-01.
func myDatetimeMicros(s []byte) (us int64, zero bool, err error) {
	days, zero, rest, err := myDate(s)
	if err != nil {
		return 0, false, err
	}
	if len(rest) < 9 || rest[0] != ' ' {
		return 0, false, errTimestamp
	}
	tod, err := clockMicros(rest[1:], 23)
	if err != nil {
		return 0, false, errTimestamp
	}
	if zero {
		return 0, true, nil
	}
	us, err = civilMicros(days, tod)
	return us, false, err
}

// myTimeMicros reads a MySQL TIME ([-]HHH:MM:SS[.f], negative and beyond
// 24 hours) as signed microseconds.
func myTimeMicros(s []byte) (int64, error) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	h, m, sec, frac, ok := typemap.ParseClock(s, true)
	if !ok {
		return 0, errTime
	}
	us, err := fracMicros(frac)
	if err != nil {
		return 0, err
	}
	total := (int64(h)*3600+int64(m)*60+int64(sec))*microsPerSecond + us
	if neg {
		total = -total
	}
	return total, nil
}

// appendYear writes a year as java.time's ISO formats do: four digits,
// zero-padded, "+" before years past 9999, "-" before negative ones.
func appendYear(dst []byte, y int64) []byte {
	if y > 9999 {
		dst = append(dst, '+')
	} else if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	switch {
	case y < 10:
		dst = append(dst, "000"...)
	case y < 100:
		dst = append(dst, "00"...)
	case y < 1000:
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, y, 10)
}

func append2(dst []byte, n int64) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendFraction writes ".ffffff" of micros: exactly width digits (width >
// 0), or as few as needed (width 0; nothing for a whole second).
func appendFraction(dst []byte, micros int64, width int) []byte {
	if width <= 0 {
		if micros == 0 {
			return dst
		}
		var b [6]byte
		n := 6
		for i := 5; i >= 0; i-- {
			b[i] = byte('0' + micros%10)
			micros /= 10
		}
		for n > 0 && b[n-1] == '0' {
			n--
		}
		dst = append(dst, '.')
		return append(dst, b[:n]...)
	}
	var b [9]byte
	for i := 5; i >= 0; i-- {
		b[i] = byte('0' + micros%10)
		micros /= 10
	}
	b[6], b[7], b[8] = '0', '0', '0'
	dst = append(dst, '.')
	return append(dst, b[:min(width, 9)]...)
}

// appendClock writes HH:MM:SS and the fraction of a time of day.
func appendClock(dst []byte, tod int64, width int) []byte {
	secs := tod / microsPerSecond
	dst = append2(dst, secs/3600)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	return appendFraction(dst, tod%microsPerSecond, width)
}

// appendZonedTimestamp writes microseconds since the epoch as an
// io.debezium.time.ZonedTimestamp in UTC ("2024-06-30T18:14:59.123456Z").
func appendZonedTimestamp(dst []byte, us int64, width int) []byte {
	days := floorDiv(us, microsPerDay)
	tod := us - days*microsPerDay
	y, m, d := civilFromDays(days)
	dst = append(dst, '"')
	dst = appendYear(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = appendClock(dst, tod, width)
	return append(dst, 'Z', '"')
}

// pgZonedTime reads a PostgreSQL timetz ("23:59:59.999999-14:59") and
// writes it as io.debezium.time.ZonedTime: the time in UTC, wrapped to the
// day, with as many fraction digits as needed ("09:00:59.999999Z").
// 24:00:00 at UTC stays 24:00:00Z, as Debezium writes it.
func appendPgZonedTime(dst, s []byte) ([]byte, error) {
	i := bytes.LastIndexAny(s, "+-")
	if i < 8 {
		return dst, errTime
	}
	offset, ok := typemap.ParseUTCOffset(s[i:])
	if !ok {
		return dst, errTime
	}
	tod, err := clockMicros(s[:i], 24)
	if err != nil {
		return dst, err
	}
	dst = append(dst, '"')
	if tod == microsPerDay && offset == 0 {
		dst = appendClock(dst, 0, 0)
		dst[len(dst)-8], dst[len(dst)-7] = '2', '4'
		return append(dst, 'Z', '"'), nil
	}
	utc := tod - int64(offset)*microsPerSecond
	utc -= floorDiv(utc, microsPerDay) * microsPerDay
	dst = appendClock(dst, utc, 0)
	return append(dst, 'Z', '"'), nil
}

// Interval arithmetic of io.debezium.time.MicroDuration: a month counts
// 365.25/12 days (30.4375 days = 2629800 s exactly).
const microsPerMonth = 2_629_800 * microsPerSecond

// pgIntervalMicros reads a PostgreSQL interval in the postgres
// IntervalStyle ("1 year 2 mons -3 days +04:05:06.789") as Debezium's
// MicroDuration. Debezium computes it in double arithmetic and casts to
// long, which saturates: a result beyond int64 becomes the extreme. Here
// the sum is exact (Debezium's double may be a microsecond off on some
// values) and saturates the same way.
func pgIntervalMicros(s []byte) (int64, error) {
	var months, days, clock big.Int
	var months64, days64, clock64 int64
	fields := bytes.Fields(s)
	if len(fields) == 0 {
		return 0, errInterval
	}
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if bytes.IndexByte(f, ':') >= 0 {
			neg := f[0] == '-'
			if f[0] == '-' || f[0] == '+' {
				f = f[1:]
			}
			h, m, sec, frac, ok := typemap.ParseClock(f, true)
			if !ok {
				return 0, errInterval
			}
			us, err := fracMicros(frac)
			if err != nil {
				return 0, errInterval
			}
			t := (int64(h)*3600+int64(m)*60+int64(sec))*microsPerSecond + us
			if neg {
				t = -t
			}
			clock64 += t
			continue
		}
		if i+1 >= len(fields) {
			return 0, errInterval
		}
		n, err := parseInt(f)
		if err != nil {
			return 0, errInterval
		}
		i++
		switch string(fields[i]) {
		case "year", "years":
			months64 += n * 12
		case "mon", "mons":
			months64 += n
		case "day", "days":
			days64 += n
		default:
			return 0, errInterval
		}
	}
	months.SetInt64(months64)
	months.Mul(&months, big.NewInt(microsPerMonth))
	days.SetInt64(days64)
	days.Mul(&days, big.NewInt(microsPerDay))
	clock.SetInt64(clock64)
	months.Add(&months, &days)
	months.Add(&months, &clock)
	switch {
	case months.IsInt64():
		return months.Int64(), nil
	case months.Sign() > 0:
		return math.MaxInt64, nil
	}
	return math.MinInt64, nil
}

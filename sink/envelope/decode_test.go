package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/typemap"
)

// The decoders below read the encoder's output back the way a consumer of
// Debezium events would (by the schema's semantic name), and render it in
// the source's own text form, so that each golden value is proven to
// carry the source value, not merely to be stable. They use the time
// package and math/big, not the encoder's code.

// intervals are the expected MicroDurations of the fixtures' intervals,
// worked out by hand with Debezium's 365.25/12-day month.
var intervals = map[string]int64{
	"-178000000 years +1 mon -2 days +04:05:06.789": math.MinInt64, // beyond int64: saturates as Java's (long) cast
	"00:00:00":       0,
	"1 day 02:00:00": (24 + 2) * 3600 * 1_000_000,
}

func checkValue(d change.Dialect, c change.Column, s map[string]any, got any, v change.Value, opts Options) error {
	switch v.State {
	case change.Null:
		if got != nil {
			return fmt.Errorf("want null, got %v", got)
		}
		return nil
	case change.Missing:
		if s["optional"] == true && got != nil {
			return fmt.Errorf("missing value in a nullable column: want null, got %v", got)
		}
		if s["optional"] != true && got == nil {
			return fmt.Errorf("missing value in a NOT NULL column: want the type's zero, got null")
		}
		return nil
	case change.Unchanged:
		ph := opts.UnavailableValue
		if ph == "" {
			ph = DefaultUnavailableValue
		}
		return checkPlaceholder(s, got, ph)
	}
	return checkPresent(d, c.Type, s, got, string(v.Data), opts)
}

func checkPlaceholder(s map[string]any, got any, ph string) error {
	want := any(ph)
	switch s["type"] {
	case "bytes":
		want = base64.StdEncoding.EncodeToString([]byte(ph))
	case "array":
		items := s["items"].(map[string]any)
		switch {
		case items["name"] == "io.debezium.data.Uuid":
			want = []any{nameUUID(ph)}
		case items["type"] == "string":
			want = []any{ph}
		case items["type"] == "bytes":
			want = []any{base64.StdEncoding.EncodeToString([]byte(ph))}
		default:
			var ns []any
			for _, c := range []byte(ph) {
				ns = append(ns, json.Number(strconv.Itoa(int(c))))
			}
			want = ns
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("placeholder: want %v, got %v", want, got)
	}
	return nil
}

func num(got any) (int64, error) {
	n, ok := got.(json.Number)
	if !ok {
		return 0, fmt.Errorf("want a number, got %v", got)
	}
	return strconv.ParseInt(string(n), 10, 64)
}

func str(got any) (string, error) {
	s, ok := got.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %v", got)
	}
	return s, nil
}

func b64(got any) ([]byte, error) {
	s, err := str(got)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

func typeArg(typ string, def int) int {
	i := strings.IndexByte(typ, '(')
	if i < 0 {
		return def
	}
	j := strings.IndexAny(typ[i:], ",)")
	n, err := strconv.Atoi(typ[i+1 : i+j])
	if err != nil {
		return def
	}
	return n
}

func eq(got, want string) error {
	if got != want {
		return fmt.Errorf("decodes to %q, want %q", got, want)
	}
	return nil
}

func checkPresent(d change.Dialect, typ string, s map[string]any, got any, text string, opts Options) error {
	if got == nil {
		if d == change.MySQL && isZeroDate(typ, text) && s["optional"] == true {
			return nil // Debezium's null for a zero date
		}
		return fmt.Errorf("got null")
	}
	name, _ := s["name"].(string)
	params, _ := s["parameters"].(map[string]any)
	pgInf := d == change.Postgres && (text == "infinity" || text == "-infinity")
	switch name {
	case "org.apache.kafka.connect.data.Decimal":
		scale, _ := strconv.Atoi(params["scale"].(string))
		x, err := decodeUnscaled(got)
		if err != nil {
			return err
		}
		return eq(formatScaled(x, scale), wantDecimal(typ, text))
	case "io.debezium.data.VariableScaleDecimal":
		m := got.(map[string]any)
		scale, err := num(m["scale"])
		if err != nil {
			return err
		}
		x, err := decodeUnscaled(m["value"])
		if err != nil {
			return err
		}
		want := text
		if strings.Contains(want, ".") {
			want = strings.TrimRight(strings.TrimRight(want, "0"), ".")
		}
		return eq(formatScaled(x, int(scale)), want)
	case "io.debezium.time.Date":
		days, err := num(got)
		if err != nil {
			return err
		}
		switch {
		case d == change.MySQL && isZeroDate(typ, text):
			return eq(strconv.FormatInt(days, 10), "0")
		case d == change.Postgres && days == -2147472692: // Debezium's infinity, see TestInfiniteDates
			return eq("infinity", text)
		case d == change.Postgres && days == -2147472691:
			return eq("-infinity", text)
		}
		return eq(renderDate(d, time.Unix(days*86400, 0).UTC()), text)
	case "io.debezium.time.Time", "io.debezium.time.MicroTime":
		us, err := num(got)
		if err != nil {
			return err
		}
		if name == "io.debezium.time.Time" {
			us *= 1000
		}
		if d == change.MySQL {
			return eq(renderMySQLTime(us, typeArg(typ, 0)), text)
		}
		return eq(renderClock(us, -1), text)
	case "io.debezium.time.Timestamp", "io.debezium.time.MicroTimestamp":
		us, err := num(got)
		if err != nil {
			return err
		}
		if name == "io.debezium.time.Timestamp" {
			us *= 1000
		}
		switch {
		case d == change.MySQL && isZeroDate(typ, text):
			return eq(strconv.FormatInt(us, 10), "0")
		case d == change.Postgres && us == 9223372036825200000:
			return eq("infinity", text)
		case d == change.Postgres && us == -9223372036832400000:
			return eq("-infinity", text)
		}
		return eq(renderTimestamp(d, time.UnixMicro(us).UTC(), typeArg(typ, 0), false), text)
	case "io.debezium.time.ZonedTimestamp":
		z, err := str(got)
		if err != nil {
			return err
		}
		if pgInf {
			return eq(z, text)
		}
		if d == change.MySQL && isZeroDate(typ, text) {
			return eq(z, "1970-01-01T00:00:00Z")
		}
		ts, digits, err := parseISO(z)
		if err != nil {
			return err
		}
		width := typeArg(typ, 6)
		if d == change.MySQL {
			width = typeArg(typ, 0)
		}
		if (width > 0 && digits != width) || (width == 0 && digits != 0 && ts.Nanosecond() == 0) {
			return fmt.Errorf("%q has %d fraction digits, want %d", z, digits, width)
		}
		return eq(renderTimestamp(d, ts, width, true), text)
	case "io.debezium.time.ZonedTime":
		z, err := str(got)
		if err != nil {
			return err
		}
		return eq(z, wantZonedTime(text))
	case "io.debezium.time.MicroDuration":
		us, err := num(got)
		if err != nil {
			return err
		}
		want, ok := intervals[text]
		if !ok {
			return fmt.Errorf("no expected value for interval %q", text)
		}
		return eq(strconv.FormatInt(us, 10), strconv.FormatInt(want, 10))
	case "io.debezium.time.Year":
		n, err := num(got)
		if err != nil {
			return err
		}
		w, _ := strconv.Atoi(text)
		return eq(strconv.FormatInt(n, 10), strconv.Itoa(w))
	case "io.debezium.data.Bits":
		b, err := b64(got)
		if err != nil {
			return err
		}
		le := make([]byte, len(b))
		for i := range b {
			le[len(b)-1-i] = b[i]
		}
		x := new(big.Int).SetBytes(le)
		want, ok := new(big.Int).SetString("0"+text, 2)
		if !ok {
			return fmt.Errorf("bad fixture bits %q", text)
		}
		if x.Cmp(want) != 0 {
			return fmt.Errorf("bits %s, want %s", x.Text(2), want.Text(2))
		}
		n := (want.BitLen() + 7) / 8 // PostgreSQL: sized by content
		if d == change.MySQL {
			n = (typeArg(typ, 1) + 7) / 8 // MySQL: sized by the column
		}
		if len(b) != n {
			return fmt.Errorf("%d bytes, want %d", len(b), n)
		}
		return nil
	case "io.debezium.data.geometry.Point":
		m := got.(map[string]any)
		x, y := jsonFloat(m["x"]), jsonFloat(m["y"])
		wkb, err := b64(m["wkb"])
		if err != nil {
			return err
		}
		var wx, wy float64
		var srid any
		if d == change.Postgres {
			parts := strings.Split(strings.Trim(text, "()"), ",")
			wx, _ = strconv.ParseFloat(parts[0], 64)
			wy, _ = strconv.ParseFloat(parts[1], 64)
		} else {
			raw := []byte(text)
			if sr := binary.LittleEndian.Uint32(raw); sr != 0 {
				srid = json.Number(strconv.Itoa(int(sr)))
			}
			if !bytes.Equal(wkb, raw[4:]) {
				return fmt.Errorf("wkb %x, want %x", wkb, raw[4:])
			}
			wx = math.Float64frombits(binary.LittleEndian.Uint64(raw[9:]))
			wy = math.Float64frombits(binary.LittleEndian.Uint64(raw[17:]))
		}
		if len(wkb) != 21 || wkb[0] != 1 || binary.LittleEndian.Uint32(wkb[1:]) != 1 ||
			math.Float64frombits(binary.LittleEndian.Uint64(wkb[5:])) != wx || math.Float64frombits(binary.LittleEndian.Uint64(wkb[13:])) != wy {
			return fmt.Errorf("wkb %x is not POINT(%v %v)", wkb, wx, wy)
		}
		if x != wx || y != wy || fmt.Sprint(m["srid"]) != fmt.Sprint(srid) {
			return fmt.Errorf("point (%v %v srid %v), want (%v %v srid %v)", x, y, m["srid"], wx, wy, srid)
		}
		return nil
	case "io.debezium.data.geometry.Geometry":
		m := got.(map[string]any)
		wkb, err := b64(m["wkb"])
		if err != nil {
			return err
		}
		raw := []byte(text)
		var srid any
		if sr := binary.LittleEndian.Uint32(raw); sr != 0 {
			srid = json.Number(strconv.Itoa(int(sr)))
		}
		if !bytes.Equal(wkb, raw[4:]) || fmt.Sprint(m["srid"]) != fmt.Sprint(srid) {
			return fmt.Errorf("geometry %x srid %v, want %x srid %v", wkb, m["srid"], raw[4:], srid)
		}
		return nil
	case "io.debezium.data.Enum", "io.debezium.data.EnumSet":
		v, err := str(got)
		if err != nil {
			return err
		}
		allowed := splitAllowed(params["allowed"].(string), d)
		labels := []string{v}
		if name == "io.debezium.data.EnumSet" {
			labels = strings.Split(v, ",")
			if v == "" {
				labels = nil
			}
		}
		for _, l := range labels {
			if l == "" && d == change.MySQL {
				continue // MySQL's value of an invalid enum label (index 0), as Debezium passes it on
			}
			if !contains(allowed, l) {
				return fmt.Errorf("label %q is not in allowed %q", l, allowed)
			}
		}
		return eq(v, text)
	}
	switch s["type"] {
	case "boolean":
		b, ok := got.(bool)
		if !ok {
			return fmt.Errorf("want a boolean, got %v", got)
		}
		return eq(strconv.FormatBool(b), map[string]string{"t": "true", "f": "false", "1": "true", "0": "false"}[text])
	case "int8", "int16", "int32", "int64":
		n, err := num(got)
		if err != nil {
			return err
		}
		if strings.HasPrefix(typ, "bigint unsigned") {
			return eq(strconv.FormatUint(uint64(n), 10), text) // long mode: the same 64 bits
		}
		w, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return err
		}
		return eq(strconv.FormatInt(n, 10), strconv.FormatInt(w, 10))
	case "float", "double":
		bits := 64
		if s["type"] == "float" {
			bits = 32
		}
		want := text
		if isDecimalType(d, typ) {
			want = wantDecimal(typ, text)
		}
		w, err := strconv.ParseFloat(want, bits)
		if err != nil {
			return err
		}
		g := jsonFloat(got)
		if bits == 32 {
			g, w = float64(float32(g)), float64(float32(w))
		}
		if math.Float64bits(g) != math.Float64bits(w) && !(math.IsNaN(g) && math.IsNaN(w)) {
			return fmt.Errorf("%v, want %v", g, w)
		}
		return nil
	case "string":
		v, err := str(got)
		if err != nil {
			return err
		}
		if isDecimalType(d, typ) {
			switch text {
			case "NaN":
				return eq(v, "NAN")
			case "Infinity":
				return eq(v, "POSITIVE_INFINITY")
			case "-Infinity":
				return eq(v, "NEGATIVE_INFINITY")
			}
			return eq(v, wantDecimal(typ, text))
		}
		return eq(v, text)
	case "bytes":
		b, err := b64(got)
		if err != nil {
			return err
		}
		want := []byte(text)
		if d == change.Postgres {
			if want, err = typemap.DecodeBytea(nil, want); err != nil {
				return err
			}
		}
		if !bytes.Equal(b, want) {
			return fmt.Errorf("bytes %x, want %x", b, want)
		}
		return nil
	case "array":
		a, ok := got.([]any)
		if !ok {
			return fmt.Errorf("want an array, got %v", got)
		}
		items := s["items"].(map[string]any)
		elemType := strings.TrimSuffix(typ, "[]")
		i := 0
		err := typemap.EachPGArrayElement([]byte(text), ',', func(e []byte, null bool) error {
			if i >= len(a) {
				return fmt.Errorf("array has %d elements, the source more", len(a))
			}
			g := a[i]
			i++
			if null {
				if g != nil {
					return fmt.Errorf("element %d: want null, got %v", i, g)
				}
				return nil
			}
			if err := checkPresent(d, elemType, items, g, string(e), opts); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
			return nil
		})
		if err == nil && i != len(a) {
			err = fmt.Errorf("array has %d elements, the source %d", len(a), i)
		}
		return err
	}
	return fmt.Errorf("no check for schema %v", s)
}

func isDecimalType(d change.Dialect, typ string) bool {
	return strings.HasPrefix(typ, "numeric") || strings.HasPrefix(typ, "decimal") || typ == "money" || typ == "bigint unsigned"
}

// wantDecimal is the exact decimal text a decimal column's value stands
// for: money without its currency symbol and group separators.
func wantDecimal(typ, text string) string {
	if typ != "money" {
		return text
	}
	neg := strings.HasPrefix(text, "-") || strings.HasPrefix(text, "(")
	t := strings.NewReplacer("-", "", "(", "", ")", "", "$", "", ",", "").Replace(text)
	if neg {
		t = "-" + t
	}
	return t
}

func decodeUnscaled(got any) (*big.Int, error) {
	b, err := b64(got)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("empty decimal bytes")
	}
	if len(b) > 1 && ((b[0] == 0 && b[1]&0x80 == 0) || (b[0] == 0xff && b[1]&0x80 != 0)) {
		return nil, fmt.Errorf("two's complement %x is not the shortest (as Java's BigInteger.toByteArray)", b)
	}
	x := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x, nil
}

func formatScaled(x *big.Int, scale int) string {
	neg := x.Sign() < 0
	digits := new(big.Int).Abs(x).String()
	if scale > 0 {
		for len(digits) <= scale {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

func jsonFloat(got any) float64 {
	switch v := got.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(v), 64)
		return f
	case string:
		switch v {
		case "NaN":
			return math.NaN()
		case "Infinity":
			return math.Inf(1)
		case "-Infinity":
			return math.Inf(-1)
		}
	}
	return math.NaN()
}

func isZeroDate(typ, text string) bool {
	if !strings.HasPrefix(typ, "date") && !strings.HasPrefix(typ, "datetime") && !strings.HasPrefix(typ, "timestamp") {
		return false
	}
	return len(text) >= 10 && (text[:4] == "0000" || text[5:7] == "00" || text[8:10] == "00")
}

// renderDate writes a date as the source prints it (PostgreSQL: BC years).
func renderDate(d change.Dialect, t time.Time) string {
	y := t.Year()
	bc := ""
	if d == change.Postgres && y <= 0 {
		y, bc = 1-y, " BC"
	}
	return fmt.Sprintf("%04d-%02d-%02d%s", y, t.Month(), t.Day(), bc)
}

// renderClock writes a time of day; fsp < 0: the fraction without
// trailing zeros (PostgreSQL), else exactly fsp digits (MySQL).
func renderClock(us int64, fsp int) string {
	s := fmt.Sprintf("%02d:%02d:%02d", us/3_600_000_000, us/60_000_000%60, us/1_000_000%60)
	frac := fmt.Sprintf("%06d", us%1_000_000)
	if fsp < 0 {
		frac = strings.TrimRight(frac, "0")
	} else {
		frac = frac[:fsp]
	}
	if frac != "" {
		s += "." + frac
	}
	return s
}

func renderMySQLTime(us int64, fsp int) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	return sign + renderClock(us, fsp)
}

// renderTimestamp writes a timestamp as the source prints it: PostgreSQL
// with the fraction trimmed (and +00 for timestamptz, BC years), MySQL
// with exactly fsp digits.
func renderTimestamp(d change.Dialect, t time.Time, fsp int, tz bool) string {
	tod := int64(t.Hour())*3_600_000_000 + int64(t.Minute())*60_000_000 + int64(t.Second())*1_000_000 + int64(t.Nanosecond()/1000)
	if d == change.MySQL {
		return fmt.Sprintf("%04d-%02d-%02d %s", t.Year(), t.Month(), t.Day(), renderClock(tod, fsp))
	}
	s := strings.TrimSuffix(renderDate(d, t), " BC") + " " + renderClock(tod, -1)
	if tz {
		s += "+00"
	}
	if t.Year() <= 0 {
		s += " BC"
	}
	return s
}

var isoRE = regexp.MustCompile(`^([+-]?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$`)

// parseISO reads an ISO-8601 UTC timestamp as java.time writes one.
func parseISO(s string) (time.Time, int, error) {
	m := isoRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, 0, fmt.Errorf("%q is not an ISO-8601 UTC timestamp", s)
	}
	if strings.HasPrefix(m[1], "+") != (len(strings.TrimLeft(m[1], "+-")) > 4 && !strings.HasPrefix(m[1], "-")) {
		return time.Time{}, 0, fmt.Errorf("%q: java.time writes '+' before exactly the years past 9999", s)
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	h, _ := strconv.Atoi(m[4])
	mi, _ := strconv.Atoi(m[5])
	sec, _ := strconv.Atoi(m[6])
	ns := 0
	if m[7] != "" {
		ns, _ = strconv.Atoi((m[7] + "000000000")[:9])
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), len(m[7]), nil
}

var timetzRE = regexp.MustCompile(`^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?$`)

// wantZonedTime is a PostgreSQL timetz as Debezium's ZonedTime: in UTC,
// wrapped to the day, the fraction as short as it can be.
func wantZonedTime(text string) string {
	m := timetzRE.FindStringSubmatch(text)
	if m == nil {
		return "bad fixture " + text
	}
	at := func(i int) int64 { n, _ := strconv.ParseInt(m[i], 10, 64); return n }
	frac := int64(0)
	if m[4] != "" {
		frac, _ = strconv.ParseInt((m[4] + "000000")[:6], 10, 64)
	}
	tod := (at(1)*3600+at(2)*60+at(3))*1_000_000 + frac
	off := (at(6)*3600 + at(7)*60 + at(8)) * 1_000_000
	if m[5] == "-" {
		off = -off
	}
	if tod == 86_400_000_000 && off == 0 {
		return "24:00:00Z"
	}
	utc := ((tod-off)%86_400_000_000 + 86_400_000_000) % 86_400_000_000
	return renderClock(utc, -1) + "Z"
}

// splitAllowed reads an allowed list: MySQL's with backslash escapes.
func splitAllowed(s string, d change.Dialect) []string {
	if d == change.Postgres {
		return strings.Split(s, ",")
	}
	var out []string
	var cur strings.Builder
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, cur.String())
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

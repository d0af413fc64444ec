package kafka

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// UnavailableValue is Debezium's placeholder for a value the source did
// not send (an unchanged TOASTed PostgreSQL value).
const UnavailableValue = "__debezium_unavailable_value"

// value converts one JSON value of Connect schema s into the dialect's text.
func value(d change.Dialect, s *connectSchema, raw json.RawMessage) (change.Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return change.NullValue, nil
	}
	if isPlaceholder(s, raw) {
		return change.Value{State: change.Unchanged}, nil
	}
	text, err := present(d, s, raw)
	if err != nil {
		return change.Value{}, err
	}
	return change.Value{State: change.Present, Data: text}, nil
}

// isPlaceholder tells whether raw is Debezium's unavailable-value
// placeholder as written for the type: the text, its base64 in bytes
// columns, or a one-element array of it.
func isPlaceholder(s *connectSchema, raw json.RawMessage) bool {
	switch raw[0] {
	case '"':
		var str string
		if json.Unmarshal(raw, &str) != nil {
			return false
		}
		if s.Type == "bytes" {
			return str == base64.StdEncoding.EncodeToString([]byte(UnavailableValue))
		}
		return str == UnavailableValue
	case '[':
		return s.Type == "array" && bytes.Contains(raw, []byte(UnavailableValue)) && bytes.Count(raw, []byte(",")) == 0
	}
	return false
}

func jsonString(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("want a JSON string, got %.40s", raw)
	}
	return s, nil
}

func jsonInt(raw json.RawMessage) (int64, error) {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %.40s", raw)
	}
	return n, nil
}

func jsonBytes(raw json.RawMessage) ([]byte, error) {
	s, err := jsonString(raw)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bytes are not base64: %w", err)
	}
	return b, nil
}

// unscaledText renders a big-endian two's complement integer with scale.
func unscaledText(b []byte, scale int) string {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return scaledText(x, scale)
}

func scaledText(x *big.Int, scale int) string {
	s := new(big.Int).Abs(x).String()
	neg := x.Sign() < 0
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	} else if scale < 0 && x.Sign() != 0 {
		s += strings.Repeat("0", -scale)
	}
	if neg {
		s = "-" + s
	}
	return s
}

var epoch = time.Unix(0, 0).UTC()

func present(d change.Dialect, s *connectSchema, raw json.RawMessage) ([]byte, error) {
	switch s.Name {
	case nDecimal:
		if raw[0] != '"' { // decimal.handling.mode double or string writes no Decimal schema; be lenient
			return []byte(raw), nil
		}
		b, err := jsonBytes(raw)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("empty decimal bytes")
		}
		scale := s.param("scale", 0)
		if scale < -1000 || scale > 1000 {
			return nil, fmt.Errorf("decimal scale %d out of range", scale)
		}
		return []byte(unscaledText(b, scale)), nil
	case nVarDecimal:
		var v struct {
			Scale *int            `json:"scale"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw, &v); err != nil || v.Scale == nil || len(v.Value) == 0 {
			return nil, fmt.Errorf("want {scale, value}, got %.60s", raw)
		}
		b, err := jsonBytes(v.Value)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("variable scale decimal value: want base64 bytes, got %.40s", v.Value)
		}
		if *v.Scale < -1000 || *v.Scale > 1000 {
			return nil, fmt.Errorf("variable scale decimal scale %d out of range", *v.Scale)
		}
		return []byte(unscaledText(b, *v.Scale)), nil
	case nDate, nConnectDate:
		n, err := jsonInt(raw)
		if err != nil {
			return nil, err
		}
		if n < -3652424*100 || n > 3652424*100 {
			return nil, fmt.Errorf("date %d days out of range", n)
		}
		return dateText(d, epoch.AddDate(0, 0, int(n))), nil
	case nTime, nConnectTime, nMicroTime, nNanoTime:
		n, err := jsonInt(raw)
		if err != nil {
			return nil, err
		}
		us, fsp := n*1000, 3
		switch s.Name {
		case nMicroTime:
			us, fsp = n, 6
		case nNanoTime:
			us, fsp = n/1000, 6
		}
		return clockText(d, us, fsp), nil
	case nTimestamp, nConnectTS, nMicroTimestamp, nNanoTimestamp:
		n, err := jsonInt(raw)
		if err != nil {
			return nil, err
		}
		var t time.Time
		fsp := 6
		switch s.Name {
		case nMicroTimestamp:
			t = time.UnixMicro(n).UTC()
		case nNanoTimestamp:
			t = time.Unix(0, n).UTC()
		default:
			t, fsp = time.UnixMilli(n).UTC(), 3
		}
		return timestampText(d, t, fsp, false), nil
	case nZonedTimestamp:
		str, err := jsonString(raw)
		if err != nil {
			return nil, err
		}
		if str == "infinity" || str == "-infinity" {
			return []byte(str), nil
		}
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return nil, fmt.Errorf("zoned timestamp %q: %w", str, err)
		}
		fsp := 6
		if d == change.MySQL {
			if i := strings.IndexByte(str, '.'); i >= 0 {
				fsp = 0
				for _, c := range str[i+1:] {
					if c < '0' || c > '9' {
						break
					}
					fsp++
				}
			} else {
				fsp = 0
			}
		}
		return timestampText(d, t.UTC(), fsp, true), nil
	case nZonedTime:
		str, err := jsonString(raw)
		if err != nil {
			return nil, err
		}
		if d == change.Postgres {
			return []byte(strings.TrimSuffix(str, "Z") + "+00"), nil
		}
		return []byte(strings.TrimSuffix(str, "Z")), nil
	case nMicroDuration:
		n, err := jsonInt(raw)
		if err != nil {
			return nil, err
		}
		if d == change.MySQL {
			return []byte(strconv.FormatInt(n, 10)), nil
		}
		return []byte(strconv.FormatInt(n, 10) + " microseconds"), nil
	case nBits:
		b, err := jsonBytes(raw)
		if err != nil {
			return nil, err
		}
		n := s.param("length", len(b)*8)
		if n > len(b)*8 && n >= 1<<20 {
			n = len(b) * 8
		}
		out := make([]byte, n)
		for i := 0; i < n; i++ { // little endian: bit 0 is the last character
			bit := n - 1 - i
			out[i] = '0'
			if bit/8 < len(b) && b[bit/8]&(1<<(bit%8)) != 0 {
				out[i] = '1'
			}
		}
		return out, nil
	case nPoint:
		var p struct{ X, Y *float64 }
		if err := json.Unmarshal(raw, &p); err != nil || p.X == nil || p.Y == nil {
			return nil, fmt.Errorf("want a point {x, y}, got %.60s", raw)
		}
		return []byte("(" + strconv.FormatFloat(*p.X, 'g', -1, 64) + "," + strconv.FormatFloat(*p.Y, 'g', -1, 64) + ")"), nil
	}
	switch s.Type {
	case "boolean":
		switch string(raw) {
		case "true":
			if d == change.MySQL {
				return []byte("1"), nil
			}
			return []byte("t"), nil
		case "false":
			if d == change.MySQL {
				return []byte("0"), nil
			}
			return []byte("f"), nil
		}
		return nil, fmt.Errorf("want true or false, got %.40s", raw)
	case "int8", "int16", "int32", "int64":
		n, err := jsonInt(raw)
		if err != nil {
			return nil, err
		}
		return []byte(strconv.FormatInt(n, 10)), nil
	case "float", "float32", "double", "float64":
		if raw[0] == '"' { // NaN and infinities are strings
			str, err := jsonString(raw)
			if err != nil {
				return nil, err
			}
			switch str {
			case "NaN", "Infinity", "-Infinity":
				return []byte(str), nil
			}
			return nil, fmt.Errorf("want a number, got %q", str)
		}
		bits := 64
		if s.Type == "float" || s.Type == "float32" {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(raw), bits)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want a number, got %.40s", raw)
		}
		return []byte(strconv.FormatFloat(f, 'g', -1, bits)), nil
	case "string":
		str, err := jsonString(raw)
		if err != nil {
			return nil, err
		}
		return []byte(str), nil
	case "bytes":
		b, err := jsonBytes(raw)
		if err != nil {
			return nil, err
		}
		if d == change.Postgres {
			return []byte(`\x` + fmt.Sprintf("%x", b)), nil
		}
		return b, nil
	case "array":
		return arrayText(d, s, raw)
	}
	return nil, fmt.Errorf("Connect type %q is not supported", s.Type)
}

func dateText(d change.Dialect, t time.Time) []byte {
	y := t.Year()
	if y <= 0 && d == change.Postgres {
		return []byte(fmt.Sprintf("%04d-%02d-%02d BC", 1-y, t.Month(), t.Day()))
	}
	return []byte(fmt.Sprintf("%04d-%02d-%02d", y, t.Month(), t.Day()))
}

// clockText renders a time of day (or, for MySQL, a signed duration).
func clockText(d change.Dialect, us int64, fsp int) []byte {
	neg := us < 0
	if neg {
		us = -us
	}
	h, m, sec, frac := us/3_600_000_000, us/60_000_000%60, us/1_000_000%60, us%1_000_000
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
	if d == change.MySQL {
		out += fraction(frac, fsp)
		if neg {
			out = "-" + out
		}
	} else if frac != 0 {
		out += strings.TrimRight(fraction(frac, 6), "0")
	}
	return []byte(out)
}

func fraction(us int64, fsp int) string {
	if fsp <= 0 {
		return ""
	}
	return "." + fmt.Sprintf("%06d", us)[:fsp]
}

func timestampText(d change.Dialect, t time.Time, fsp int, zoned bool) []byte {
	date := dateText(change.MySQL, t)
	clock := fmt.Sprintf(" %02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
	us := int64(t.Nanosecond() / 1000)
	if d == change.MySQL {
		return []byte(string(date) + clock + fraction(us, fsp))
	}
	if us != 0 {
		clock += strings.TrimRight(fraction(us, 6), "0")
	}
	if zoned {
		clock += "+00"
	}
	if t.Year() <= 0 {
		return []byte(fmt.Sprintf("%04d-%02d-%02d", 1-t.Year(), t.Month(), t.Day()) + clock + " BC")
	}
	return []byte(string(date) + clock)
}

// arrayText renders a JSON array as a PostgreSQL array literal.
func arrayText(d change.Dialect, s *connectSchema, raw json.RawMessage) ([]byte, error) {
	if d != change.Postgres || s.Items == nil {
		return nil, fmt.Errorf("arrays are supported for PostgreSQL only")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("want an array, got %.40s", raw)
	}
	out := []byte{'{'}
	for i, e := range elems {
		if i > 0 {
			out = append(out, ',')
		}
		v, err := value(d, s.Items, e)
		if err != nil {
			return nil, fmt.Errorf("array element %d: %w", i, err)
		}
		if v.State != change.Present {
			out = append(out, "NULL"...)
			continue
		}
		out = append(out, '"')
		for _, c := range v.Data {
			if c == '"' || c == '\\' {
				out = append(out, '\\')
			}
			out = append(out, c)
		}
		out = append(out, '"')
	}
	return append(out, '}'), nil
}

package typemap

import "errors"

// The parsers below read the dialects' value texts for packages that
// interpret values rather than convert them (sink/envelope). They share
// their code with the conversions above. Their errors never quote the
// value: values may be secret.

// DecodeBytea appends the bytes of PostgreSQL bytea text (hex format
// "\x0a0b", or the old escape format) to dst.
func DecodeBytea(dst, s []byte) ([]byte, error) {
	out, err := appendByteaRaw(dst, s)
	if err != nil {
		return dst, errors.New("not PostgreSQL bytea text (hex \\x... or escape format)")
	}
	return out, nil
}

// ParseClock reads "HH:MM:SS[.fraction]" and returns its parts; frac holds
// the fraction's digits (a subslice of s). With wide, the hours may have
// any number of digits (MySQL TIME, PostgreSQL interval); minutes and
// seconds are checked to be below 60, the hours are not bounded.
func ParseClock(s []byte, wide bool) (h, m, sec int, frac []byte, ok bool) {
	return parseClock(s, wide)
}

// ParseUTCOffset reads a UTC offset as PostgreSQL prints it ("+05",
// "-14:59", "+05:45:12") and returns it in seconds east of UTC.
func ParseUTCOffset(s []byte) (seconds int, ok bool) {
	return parseOffset(s)
}

// EachPGArrayElement calls fn for every element of a one-dimensional
// PostgreSQL array literal ({1,NULL,3}, {"a b","c\"d"}, [0:1]={1,2}),
// unquoted and unescaped, in order; null reports an unquoted NULL. elem is
// only valid during the call. delim is the element type's delimiter (','
// for all but box, whose is ';'). A multi-dimensional array, malformed
// text, or an error from fn ends the walk with an error.
func EachPGArrayElement(s []byte, delim byte, fn func(elem []byte, null bool) error) error {
	var cbErr error
	p := &pgArrayParser{s: s, delim: delim, each: func(e []byte, null bool) error {
		if err := fn(e, null); err != nil {
			cbErr = err
			return err
		}
		return nil
	}}
	_, err := p.run(nil)
	switch {
	case cbErr != nil:
		return cbErr
	case err != nil:
		return errors.New("not a one-dimensional PostgreSQL array literal (" + err.Error() + ")")
	}
	return nil
}

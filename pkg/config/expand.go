package config

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in s with values from env.
// $${ is a literal ${; a $ not followed by { is left alone, so $VAR is not
// expanded (passwords often contain $). As in the shell, the default is used
// when VAR is unset or empty. quote says whether the offending reference may
// be quoted in an error (not for secret keys).
func expand(s string, env func(string) (string, bool), quote bool) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ (close it with }, or write $${ for a literal ${)")
			}
			ref := s[i+2 : i+end]
			val, err := lookup(ref, env, quote)
			if err != nil {
				return "", err
			}
			b.WriteString(val)
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

// lookup resolves the inside of one ${...}.
func lookup(ref string, env func(string) (string, bool), quote bool) (string, error) {
	name, def, hasDef := strings.Cut(ref, ":-")
	if !validVarName(name) {
		const fix = "(a name is letters, digits and _, e.g. ${PGPASSWORD}; write $${ for a literal ${)"
		if !quote {
			return "", fmt.Errorf("a ${...} reference has an invalid variable name %s", fix)
		}
		return "", fmt.Errorf("%q is not a valid variable reference %s", "${"+name+"}", fix)
	}
	val, ok := env(name)
	if hasDef && val == "" {
		return def, nil
	}
	if !ok {
		return "", fmt.Errorf("environment variable %s is not set (referenced as ${%s})", name, name)
	}
	return val, nil
}

func validVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

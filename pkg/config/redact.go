package config

import (
	"regexp"
	"strings"
)

const redacted = "xxxxx"

var (
	// password=... in a key=value DSN (libpq form), possibly single-quoted
	// with backslash escapes, and password=... in a URL query.
	kvPassword = regexp.MustCompile(`(?i)(^|[\s?&])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&#]*)`)
	// user:password@tcp(host)/db, the Go MySQL driver's form.
	driverPassword = regexp.MustCompile(`^([^\s:@/=]*):(.+)@((?:tcp|unix|udp)?\(|/)`)
)

// RedactDSN returns dsn with any password replaced by "xxxxx", for logs and
// errors. It understands URLs (postgres://user:pw@host/db, mysql://...,
// including ?password=), libpq key=value strings (password=pw or
// password='p w') and the Go MySQL driver's user:pw@tcp(host)/db. When in
// doubt it hides too much rather than too little.
func RedactDSN(dsn string) string {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok {
		dsn = scheme + "://" + redactUserinfo(rest)
	} else if m := driverPassword.FindStringSubmatchIndex(dsn); m != nil {
		dsn = dsn[:m[4]] + redacted + dsn[m[5]:]
	}
	return kvPassword.ReplaceAllString(dsn, "${1}${2}"+redacted)
}

// redactUserinfo hides everything between the first ':' and the last '@'
// of the part after "scheme://". The last '@' is used because a password
// may contain an unescaped '@' (Go's url.Parse splits there too); if the
// query holds an '@' this hides the host as well, which is the safe error.
func redactUserinfo(rest string) string {
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return rest
	}
	user, pass, ok := strings.Cut(rest[:at], ":")
	if !ok || pass == "" {
		return rest
	}
	return user + ":" + redacted + rest[at:]
}

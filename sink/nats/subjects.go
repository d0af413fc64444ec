package nats

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicecdc/sluice/pkg/change"
)

// subject is a table's subject: <prefix>.<schema>.<table>, each name one
// token (characters a subject cannot hold become '_').
func subject(prefix string, id change.TableID) string {
	return prefix + "." + token(id.Schema) + "." + token(id.Name)
}

// progressSubject is where a pipeline's progress markers go: four tokens,
// so consumers of <prefix>.*.* (the tables) never see them.
func progressSubject(prefix, pipeline string) string {
	return prefix + "._sluice.progress." + token(pipeline)
}

// token makes s one subject token.
func token(s string) string {
	if s == "" {
		return "_"
	}
	ok := true
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] > ' ' && s[i] < 0x7f && s[i] != '.' && s[i] != '*' && s[i] != '>'
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r > ' ' && r < 0x7f && r != '.' && r != '*' && r != '>' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// covered tells whether one of the filters matches subject.
func covered(filters []string, subject string) bool {
	for _, f := range filters {
		if matches(f, subject) {
			return true
		}
	}
	return false
}

// matches is NATS subject matching: * is one token, a final > the rest.
func matches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || tok != "*" && tok != s[i] {
			return false
		}
	}
	return len(f) == len(s)
}

func retention(s string) (jetstream.RetentionPolicy, error) {
	switch s {
	case "limits", "":
		return jetstream.LimitsPolicy, nil
	case "interest":
		return jetstream.InterestPolicy, nil
	case "workqueue":
		return jetstream.WorkQueuePolicy, nil
	}
	return 0, fmt.Errorf("%q: use limits, interest or workqueue", s)
}

// redactURL hides a password or token in a server URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if strings.Contains(s, "@") {
			return "(a URL with credentials)"
		}
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	} else {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

func redactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = redactURL(u)
	}
	return strings.Join(out, ",")
}

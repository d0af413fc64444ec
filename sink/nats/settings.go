package nats

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// Settings are the keys under sink.nats.
type Settings struct {
	// URLs are the servers to connect to (nats://host:4222, tls://...).
	URLs []string `mapstructure:"urls"`
	// SubjectPrefix starts every subject: <prefix>.<schema>.<table>. It is
	// also Debezium's topic.prefix (source.name, schema names).
	SubjectPrefix string `mapstructure:"subject_prefix"`
	// Stream is the JetStream stream the subjects belong to.
	Stream string `mapstructure:"stream"`
	// Subjects are the stream's subjects when Sluice creates it
	// (default <prefix>.>).
	Subjects []string `mapstructure:"subjects"`
	// CreateStream creates the stream when it is missing.
	CreateStream bool          `mapstructure:"create_stream"`
	Retention    string        `mapstructure:"retention"` // limits | interest | workqueue
	Replicas     int           `mapstructure:"replicas"`
	MaxAge       time.Duration `mapstructure:"max_age"` // 0: forever
	Storage      string        `mapstructure:"storage"` // file | memory
	// DuplicateWindow is the stream's Nats-Msg-Id window when Sluice
	// creates it.
	DuplicateWindow time.Duration `mapstructure:"duplicate_window"`
	// Schemas wraps keys and values as {"schema":...,"payload":...}.
	Schemas         bool   `mapstructure:"schemas"`
	Tombstones      bool   `mapstructure:"tombstones"`
	DecimalHandling string `mapstructure:"decimal_handling"` // precise | string | double
	// Timeout bounds connecting and each acknowledgement.
	Timeout time.Duration `mapstructure:"timeout"`

	User      string `mapstructure:"user"`
	Password  string `mapstructure:"password"`
	Token     string `mapstructure:"token"`
	CredsFile string `mapstructure:"creds_file"` // a .creds file (JWT and nkey seed)
	NkeyFile  string `mapstructure:"nkey_file"`  // a file holding an nkey seed
	TLS       TLS    `mapstructure:"tls"`
}

// TLS are the keys under sink.nats.tls.
type TLS struct {
	CAFile   string `mapstructure:"ca_file"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

var defaults = map[string]any{
	"urls":             []string{"nats://127.0.0.1:4222"},
	"create_stream":    true,
	"retention":        "limits",
	"replicas":         1,
	"storage":          "file",
	"duplicate_window": 2 * time.Minute,
	"schemas":          true,
	"tombstones":       true,
	"decimal_handling": "precise",
	"timeout":          30 * time.Second,
}

var examples = map[string]string{
	"urls":             "[nats://127.0.0.1:4222]",
	"subject_prefix":   "crm",
	"stream":           "CRM",
	"subjects":         "[crm.>]",
	"retention":        "limits",
	"replicas":         "1",
	"max_age":          "168h",
	"storage":          "file",
	"duplicate_window": "2m",
	"decimal_handling": "precise",
	"timeout":          "30s",
}

// streamName is the configured stream, or one made from the prefix.
func (s *Settings) streamName() string {
	if s.Stream != "" {
		return s.Stream
	}
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(s.SubjectPrefix))
}

// subjects are the stream's subjects when Sluice creates it.
func (s *Settings) subjects() []string {
	if len(s.Subjects) > 0 {
		return s.Subjects
	}
	return []string{s.SubjectPrefix + ".>"}
}

// validate checks the settings; kind.Validate reports through it.
func validate(c *config.Config, settings any, v config.Validator) {
	s := settings.(*Settings)
	if k := v.At("sink.nats.urls"); k != "" {
		if len(s.URLs) == 0 {
			v.Addf("%s: required (e.g. [nats://127.0.0.1:4222])", k)
		}
		for _, u := range s.URLs {
			if err := checkURL(u); err != nil {
				v.Addf("%s: %v", k, err)
			}
		}
	}
	if k := v.At("sink.nats.subject_prefix"); k != "" {
		if s.SubjectPrefix == "" {
			v.Addf("%s: required: subjects are <prefix>.<schema>.<table> (e.g. %s)", k, "crm")
		} else if err := checkPrefix(s.SubjectPrefix); err != nil {
			v.Addf("%s: %v", k, err)
		}
	}
	if k := v.At("sink.nats.stream"); k != "" && s.Stream != "" && strings.ContainsAny(s.Stream, ".*> \t") {
		v.Addf("%s: %q: a stream name has no '.', '*', '>' or spaces (e.g. CRM)", k, s.Stream)
	}
	if k := v.At("sink.nats.subjects"); k != "" {
		for _, subj := range s.Subjects {
			if !validSubject(subj, true) {
				v.Addf("%s: %q is not a subject (tokens separated by '.', wildcards * and a final >)", k, subj)
			}
		}
		if s.SubjectPrefix != "" && len(s.Subjects) > 0 && !covered(s.Subjects, progressSubject(s.SubjectPrefix, c.Name)) {
			v.Addf("%s: %v does not hold Sluice's progress subject %s (add %s.> or that subject)", k, s.Subjects,
				progressSubject(s.SubjectPrefix, c.Name), s.SubjectPrefix)
		}
	}
	if k := v.At("sink.nats.retention"); k != "" {
		if _, err := retention(s.Retention); err != nil {
			v.Addf("%s: %v", k, err)
		}
	}
	if k := v.At("sink.nats.storage"); k != "" && s.Storage != "file" && s.Storage != "memory" {
		v.Addf("%s: %q: use file or memory", k, s.Storage)
	}
	if k := v.At("sink.nats.replicas"); k != "" && (s.Replicas < 1 || s.Replicas > 5) {
		v.Addf("%s: %d: use 1 to 5 (JetStream's range)", k, s.Replicas)
	}
	if k := v.At("sink.nats.max_age"); k != "" && s.MaxAge < 0 {
		v.Addf("%s: must not be negative (0 keeps messages forever)", k)
	}
	if k := v.At("sink.nats.duplicate_window"); k != "" && s.DuplicateWindow < 100*time.Millisecond {
		v.Addf("%s: %s: use at least 100ms (e.g. 2m)", k, s.DuplicateWindow)
	}
	if k := v.At("sink.nats.timeout"); k != "" && s.Timeout <= 0 {
		v.Addf("%s: must be positive (e.g. 30s)", k)
	}
	if k := v.At("sink.nats.decimal_handling"); k != "" {
		if _, err := envelope.ParseDecimalMode(s.DecimalHandling); err != nil {
			v.Addf("%s: %q: use precise, string or double", k, s.DecimalHandling)
		}
	}
	auth := 0
	for _, set := range []bool{s.User != "" || s.Password != "", s.Token != "", s.CredsFile != "", s.NkeyFile != ""} {
		if set {
			auth++
		}
	}
	if k := v.At("sink.nats.token"); k != "" && auth > 1 {
		v.Addf("sink.nats: set one way to authenticate: user and password, token, creds_file or nkey_file")
	}
	if k := v.At("sink.nats.user"); k != "" && (s.User == "") != (s.Password == "") {
		v.Addf("%s: user and password go together (set both, or neither)", k)
	}
	if k := v.At("sink.nats.tls.cert_file"); k != "" && (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		v.Addf("%s: cert_file and key_file go together (set both, or neither)", k)
	}
}

func checkURL(u string) error {
	if u == "" {
		return fmt.Errorf("an empty URL (e.g. nats://127.0.0.1:4222)")
	}
	if strings.ContainsAny(u, " \t,") {
		return fmt.Errorf("%q: give one URL per list entry (e.g. [nats://a:4222, nats://b:4222])", redactURL(u))
	}
	return nil
}

// checkPrefix: the prefix is whole subject tokens of letters, digits,
// '_' and '-', as Debezium's topic.prefix and a NATS subject both allow.
func checkPrefix(p string) error {
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("%q has an empty token (no leading, trailing or double '.')", p)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return fmt.Errorf("%q: use only letters, digits, '_', '-' and '.' between tokens", p)
			}
		}
	}
	return nil
}

// validSubject checks a subject; with wild, a filter with * and a final >.
func validSubject(s string, wild bool) bool {
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
			return false
		}
		if strings.ContainsAny(tok, "*>") && (!wild || len(tok) > 1 || tok == ">" && i != len(toks)-1) {
			return false
		}
	}
	return true
}

package config

import (
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://replicator:s3cret@db:5432/crm?sslmode=disable", "postgres://replicator:xxxxx@db:5432/crm?sslmode=disable"},
		{"postgresql://u:p@h/db", "postgresql://u:xxxxx@h/db"},
		{"mysql://repl:s3cret@db:3306/shop", "mysql://repl:xxxxx@db:3306/shop"},
		{"postgres://app@dwh:5432/dwh", "postgres://app@dwh:5432/dwh"},
		{"postgres://dwh:5432/dwh", "postgres://dwh:5432/dwh"},
		{"postgres://u:@h/db", "postgres://u:@h/db"},
		// unescaped @ and / in the password: everything up to the last @ goes.
		{"postgres://u:p@ss/w0rd@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db?sslmode=require&password=s3cret", "postgres://u@h/db?sslmode=require&password=xxxxx"},
		{"postgres://u@h/db?PASSWORD=s3cret&x=1", "postgres://u@h/db?PASSWORD=xxxxx&x=1"},
		{"host=db user=u password=s3cret dbname=crm", "host=db user=u password=xxxxx dbname=crm"},
		{"password=s3cret host=db", "password=xxxxx host=db"},
		{"host=db password = s3cret", "host=db password = xxxxx"},
		{`host=db password='s3 cr\'et' dbname=crm`, "host=db password=xxxxx dbname=crm"},
		{"host=db password='unterminated s3cret", "host=db password=xxxxx"},
		{"host=db sslpassword=s3cret", "host=db sslpassword=xxxxx"},
		{"host=db user=password", "host=db user=password"},
		{"repl:s3cret@tcp(db:3306)/shop", "repl:xxxxx@tcp(db:3306)/shop"},
		{"repl:s3cret@/shop", "repl:xxxxx@/shop"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.in); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedacted(t *testing.T) {
	c := designConfig
	c.Sink.DSN = "host=dwh password=hunter2"
	r := c.Redacted()
	if r.Source.DSN != "postgres://replicator:xxxxx@db:5432/crm?sslmode=disable" || r.Sink.DSN != "host=dwh password=xxxxx" {
		t.Errorf("Redacted DSNs = %q, %q", r.Source.DSN, r.Sink.DSN)
	}
	if c.Source.DSN != designConfig.Source.DSN {
		t.Error("Redacted changed the original")
	}
	r.Source.Tables[0] = "changed"
	if c.Source.Tables[0] != "public.*" {
		t.Error("Redacted shares the Tables slice")
	}

	s := c.String()
	for _, secret := range []string{"s3cret", "hunter2"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() contains %q: %s", secret, s)
		}
	}
	for _, want := range []string{"name=crm-to-dwh", "source.dsn=postgres://replicator:xxxxx@db", "source.tables=public.*", "sink.batch.wait=500ms", "source.mysql.server_id=4001", "log.format=json"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q: %s", want, s)
		}
	}
}

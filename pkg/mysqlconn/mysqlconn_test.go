package mysqlconn

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	p, err := Parse("mysql://app:s3cret@db.example:3307/shop?tls=skip-verify&sql_mode=ANSI")
	if err != nil {
		t.Fatal(err)
	}
	if p.User != "app" || p.Password != "s3cret" || p.Addr() != "db.example:3307" || p.Database != "shop" {
		t.Fatalf("%+v", p)
	}
	c, err := p.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.TLSConfig != "skip-verify" || c.Params["sql_mode"] != "ANSI" || c.Params["time_zone"] != "'+00:00'" || !c.InterpolateParams {
		t.Fatalf("%+v", c)
	}
	for _, bad := range []string{"postgres://u@h/db", "mysql://h/db", "mysql://u:pw@h:99999/db", "mysql://u:pw@h/a/b", "::"} {
		_, err := Parse(bad)
		if err == nil {
			t.Errorf("%s: want an error", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: error quotes the password: %v", bad, err)
		}
	}
	if p, _ := Parse("mysql://u@h"); p.Port != 3306 || p.Database != "" {
		t.Fatalf("defaults: %+v", p)
	}
	if Flavor("10.11.19-MariaDB-0+deb12u1") != "mariadb" || Flavor("8.0.36") != "mysql" {
		t.Fatal("flavor")
	}
	if QuoteIdent("a`b") != "`a``b`" {
		t.Fatal("quote")
	}
}

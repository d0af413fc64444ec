package mysql

import (
	"fmt"
	"testing"
)

func TestParseAlterRenames(t *testing.T) {
	for _, c := range []struct {
		q    string
		want string // "schema.table: from>to ..." or "not understood"
	}{
		{"ALTER TABLE t RENAME COLUMN a TO b", ".t: a>b"},
		{"alter table `app`.`t` rename column `a` to `b`", "app.t: a>b"},
		{"ALTER TABLE app.t CHANGE a b bigint NOT NULL DEFAULT '0'", "app.t: a>b"},
		{"ALTER TABLE app.t CHANGE COLUMN IF EXISTS `a` `b` varchar(10)", "app.t: a>b"},
		{"ALTER TABLE t CHANGE a a bigint", ".t:"},
		{"ALTER TABLE t ADD COLUMN c int, RENAME COLUMN a TO b, MODIFY d decimal(10,2) DEFAULT 1.5", ".t: a>b"},
		{"ALTER TABLE t RENAME COLUMN a TO b, RENAME COLUMN b TO a", ".t: a>b b>a"},
		{"ALTER /* why */ TABLE t -- note\n RENAME COLUMN `we``ird` TO `new, name`", ".t: we`ird>new, name"},
		{"ALTER TABLE t ADD COLUMN c enum('x,y','RENAME COLUMN q TO r') , CHANGE c1 c2 int", ".t: c1>c2"},
		{"ALTER ONLINE IGNORE TABLE IF EXISTS t NOWAIT RENAME COLUMN a TO b", ".t: a>b"},
		{"ALTER TABLE t WAIT 5 CHANGE a b int", ".t: a>b"},
		{"ALTER TABLE t RENAME INDEX i TO j", ".t:"},
		{"ALTER TABLE t ADD COLUMN x int", ".t:"},
		{"ALTER TABLE t RENAME TO u", "not understood"},
		{"ALTER TABLE t RENAME COLUMN a", "not understood"},
		{"ALTER TABLE t ADD COLUMN x varchar(10) DEFAULT 'unclosed", "not understood"},
		{"ALTER TABLE t PARTITION BY HASH(id) (PARTITION p0 COMMENT 'x') RENAME COLUMN a TO b", "not understood"},
		{"ALTER DATABASE d CHARACTER SET utf8mb4", "not understood"},
		{"CREATE TABLE t (a int)", "not understood"},
		{"ALTER TABLE t /*!80000 RENAME COLUMN a TO b */", "not understood"},
	} {
		got := "not understood"
		if a, ok := parseAlterRenames(c.q); ok {
			got = a.schema + "." + a.table + ":"
			for _, r := range a.renames {
				got += fmt.Sprintf(" %s>%s", r.From, r.To)
			}
		}
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.q, got, c.want)
		}
	}
}

func FuzzParseAlterRenames(f *testing.F) {
	for _, s := range []string{"ALTER TABLE t RENAME COLUMN a TO b", "ALTER TABLE `a`.`b` CHANGE `x` `y` int, ADD c int",
		"ALTER TABLE t ADD c enum('a','b')", "ALTER TABLE t RENAME COLUMN `a` TO"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		a, ok := parseAlterRenames(q)
		if ok && a.table == "" {
			t.Fatalf("%q: understood without a table", q)
		}
	})
}

package change

import "testing"

func TestIntegerKey(t *testing.T) {
	tbl := func(d Dialect, types ...string) *Table {
		t := &Table{Dialect: d}
		for i, typ := range types {
			t.Columns = append(t.Columns, Column{Name: string(rune('a' + i)), Type: typ})
			t.Key = append(t.Key, i)
		}
		return t
	}
	for _, c := range []struct {
		t    *Table
		want bool
	}{
		{tbl(Postgres, "integer", "bigint"), true},
		{tbl(Postgres, "integer", "text"), false},
		{tbl(Postgres, "int"), false},
		{tbl(MySQL, "int", "bigint unsigned", "tinyint", "mediumint", "smallint"), true},
		{tbl(MySQL, "varchar(10)"), false},
		{tbl(MySQL, "decimal(10,0)"), false},
		{tbl(MySQL), false}, // no key
	} {
		if got := IntegerKey(c.t); got != c.want {
			t.Errorf("IntegerKey(%v %v) = %v, want %v", c.t.Dialect, c.t.Columns, got, c.want)
		}
	}
}

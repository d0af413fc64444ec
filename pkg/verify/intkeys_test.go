package verify

import (
	"math/big"
	"testing"
	"time"
)

func TestAdaptWidth(t *testing.T) {
	want := 250 * time.Millisecond
	for _, c := range []struct {
		name  string
		w     int64
		rows  int64
		took  time.Duration
		width int64
	}{
		{"fast chunk doubles", 1000, 1000, 10 * time.Millisecond, 2000},
		{"empty stretch doubles", 1000, 0, 0, 2000},
		{"slow chunk halves", 1000, 1000, time.Second, 500},
		{"on time stays", 1000, 1000, want, 1000},
		{"too many rows caps", 1000, 4 * maxChunk, time.Millisecond, 250},
		{"never below one", 1, 1, time.Hour, 1},
	} {
		got := adaptWidth(big.NewInt(c.w), c.rows, c.took, want)
		if got.Int64() != c.width {
			t.Errorf("%s: adaptWidth(%d, %d rows, %v) = %v, want %d", c.name, c.w, c.rows, c.took, got, c.width)
		}
	}
	// Keys near the top of bigint unsigned do not overflow.
	huge, _ := new(big.Int).SetString("18446744073709551615", 10)
	if got := adaptWidth(huge, 0, 0, want); got.Cmp(huge) <= 0 {
		t.Errorf("adaptWidth(2^64-1) = %v, want it doubled", got)
	}
}

func TestIntKey(t *testing.T) {
	for _, c := range []struct {
		types []string
		key   []int
		want  bool
	}{
		{[]string{"bigint", "text"}, []int{0}, true},
		{[]string{"int unsigned"}, []int{0}, true},
		{[]string{"bigint unsigned"}, []int{0}, true},
		{[]string{"text"}, []int{0}, false},
		{[]string{"numeric(10,0)"}, []int{0}, false},
		{[]string{"integer", "integer"}, []int{0, 1}, false},
		{[]string{"integer"}, nil, false},
	} {
		if got := intKey(&Table{Types: c.types, Key: c.key}); got != c.want {
			t.Errorf("intKey(%v, key %v) = %v, want %v", c.types, c.key, got, c.want)
		}
	}
}

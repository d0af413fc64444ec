package config

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "64MiB", want: 64 << 20},
		{in: "64mib", want: 64 << 20},
		{in: "16MB", want: 16e6},
		{in: "512KiB", want: 512 << 10},
		{in: "2kB", want: 2000},
		{in: "1GiB", want: 1 << 30},
		{in: "3GB", want: 3e9},
		{in: " 100 B ", want: 100},
		{in: "512 KiB", want: 512 << 10},
		{in: "", err: "is not a size"},
		{in: "MiB", err: "is not a size"},
		{in: "64M", err: "is not a size"},
		{in: "1.5MiB", err: "is not a size"},
		{in: "-1", err: "is not a size"},
		{in: "64 MiB extra", err: "is not a size"},
		{in: "99999999999999999999", err: "too large"},
		{in: "9999999999GiB", err: "too large"},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseSize(%q) error = %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := map[int64]string{0: "0", 12: "12", 1024: "1KiB", 1536: "1536", 64 << 20: "64MiB", 2 << 30: "2GiB", -2048: "-2KiB"}
	for n, want := range tests {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

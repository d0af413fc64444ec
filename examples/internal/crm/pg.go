package crm

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Connect opens a session whose text output does not depend on the
// server's settings (timestamptz in UTC).
func Connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3"); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// Rows runs a query of one text column and returns its values sorted in
// byte order (whatever the database's collation).
func Rows(ctx context.Context, conn *pgx.Conn, query string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(list)
	return list, err
}

// DiffRows describes how two sorted row lists differ ("" when equal),
// quoting a few rows found on one side only. want is the source's side.
func DiffRows(want, got []string) string {
	var onlySrc, onlyDst []string
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || i < len(want) && want[i] < got[j]:
			onlySrc = append(onlySrc, want[i])
			i++
		case i == len(want) || got[j] < want[i]:
			onlyDst = append(onlyDst, got[j])
			j++
		default:
			i++
			j++
		}
	}
	if len(onlySrc) == 0 && len(onlyDst) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "source has %d rows, target %d; %d rows only in the source, %d only in the target",
		len(want), len(got), len(onlySrc), len(onlyDst))
	for _, r := range onlySrc[:min(3, len(onlySrc))] {
		fmt.Fprintf(&b, "\n      only in source: %s", r)
	}
	for _, r := range onlyDst[:min(3, len(onlyDst))] {
		fmt.Fprintf(&b, "\n      only in target: %s", r)
	}
	return b.String()
}

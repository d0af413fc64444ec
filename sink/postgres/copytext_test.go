package postgres

import (
	"bytes"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

func TestAppendCopyRow(t *testing.T) {
	var buf bytes.Buffer
	appendCopyRow(&buf, change.Row{change.Text("a\tb\\c\nd\re"), {State: change.Null}, change.Text(""), {State: change.Unchanged}}, []int{0, 1, 2})
	if got, want := buf.String(), "a\\tb\\\\c\\nd\\re\t\\N\t\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

package connector

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/errkind"
)

// TestClassify: every kind marks the errors it knows, the first verdict
// stays, and an error no kind knows is left as it was.
func TestClassify(t *testing.T) {
	slotBusy, deadlock, other := errors.New("slot busy"), errors.New("deadlock"), errors.New("other")
	marks := func(known error, transient bool) func(error) error {
		return func(err error) error {
			if errors.Is(err, known) {
				return errkind.Mark(err, transient)
			}
			return err
		}
	}
	r := New(Source{Kind: config.Kind{Name: "a"}, Classify: marks(slotBusy, true)},
		Source{Kind: config.Kind{Name: "b"}},
		Sink{Kind: config.Kind{Name: "c"}, Classify: marks(deadlock, true)},
		Sink{Kind: config.Kind{Name: "d"}, Classify: marks(deadlock, false)})
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("start: %w", slotBusy), true},
		{fmt.Errorf("apply: %w", deadlock), true},
		{fmt.Errorf("apply: %w", other), false},
		{nil, false},
	} {
		if got := errkind.Transient(r.Classify(c.err)); got != c.want {
			t.Errorf("%v: transient %v, want %v", c.err, got, c.want)
		}
	}
	if err := fmt.Errorf("x: %w", other); r.Classify(err) != err {
		t.Error("an error no kind knows was wrapped")
	}
}

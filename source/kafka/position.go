package kafka

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return tp.Topic + "/" + strconv.Itoa(int(tp.Partition)) }

// Offsets is a kafka source's position: for every partition a member
// consumed, the offset of the next record to read. Its text is
// "topic/partition=offset" items separated by spaces, sorted; Kafka topic
// names hold none of '/', '=' and ' '.
type Offsets map[TopicPartition]int64

var _ change.Position = Offsets(nil)

func (o Offsets) String() string {
	items := make([]string, 0, len(o))
	for tp, off := range o {
		items = append(items, tp.String()+"="+strconv.FormatInt(off, 10))
	}
	sort.Strings(items)
	return strings.Join(items, " ")
}

// Compare orders two members' positions only partly: o is before other
// (-1) when every partition of o is in other at an offset no smaller, the
// same (0) when they are equal, and after (+1) otherwise, so that a
// transaction carrying a new partition or offset is never taken for one
// the target holds already.
func (o Offsets) Compare(other change.Position) int {
	b, _ := other.(Offsets)
	less := len(o) < len(b)
	for tp, off := range o {
		bo, ok := b[tp]
		if !ok || off > bo {
			return 1
		}
		if off < bo {
			less = true
		}
	}
	if less {
		return -1
	}
	return 0
}

// ParseOffsets reads the text of Offsets ("" is none).
func ParseOffsets(s string) (Offsets, error) {
	o := Offsets{}
	for _, item := range strings.Fields(s) {
		tpText, offText, ok := strings.Cut(item, "=")
		i := strings.LastIndexByte(tpText, '/')
		if !ok || i <= 0 {
			return nil, fmt.Errorf("kafka position %q: item %q is not topic/partition=offset", s, item)
		}
		p, err := strconv.ParseInt(tpText[i+1:], 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("kafka position %q: bad partition in %q", s, item)
		}
		off, err := strconv.ParseInt(offText, 10, 64)
		if err != nil || off < 0 {
			return nil, fmt.Errorf("kafka position %q: bad offset in %q", s, item)
		}
		o[TopicPartition{tpText[:i], int32(p)}] = off
	}
	return o, nil
}

// MaxOffsets merges the stored positions of all members of a group: the
// greatest offset of each partition (offsets only grow, so it is the
// newest, whichever member stored it).
func MaxOffsets(texts []string) (Offsets, error) {
	out := Offsets{}
	for _, t := range texts {
		o, err := ParseOffsets(t)
		if err != nil {
			return nil, err
		}
		for tp, off := range o {
			if off > out[tp] {
				out[tp] = off
			}
		}
	}
	return out, nil
}

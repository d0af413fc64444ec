package kafka

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The source's own metrics, exported with the pipeline's (/metrics).
var (
	lagRecordsDesc = prometheus.NewDesc("sluice_kafka_partition_lag_records",
		"Records of a partition this member owns that are not yet committed in the target (the partition's high watermark minus the stored offset).",
		[]string{"topic", "partition"}, nil)
	lagSecondsDesc = prometheus.NewDesc("sluice_kafka_partition_lag_seconds",
		"Age of the oldest record of a partition this member handed to the pipeline and not yet committed in the target (0 when caught up).",
		[]string{"topic", "partition"}, nil)
	ownedDesc = prometheus.NewDesc("sluice_kafka_partitions_owned",
		"Partitions the group has assigned to this member.", nil, nil)
	rebalancesDesc = prometheus.NewDesc("sluice_kafka_rebalances_total",
		"Partition assignments and revocations this member went through.", nil, nil)
)

// handed is a record handed out and not yet committed: its next offset
// and its timestamp.
type handed struct {
	next int64
	ts   time.Time
}

// counter counts rebalances (assignments and revocations).
type counter struct{ n atomic.Int64 }

// Describe implements prometheus.Collector.
func (s *Source) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagRecordsDesc
	ch <- lagSecondsDesc
	ch <- ownedDesc
	ch <- rebalancesDesc
}

// Collect implements prometheus.Collector.
func (s *Source) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(ownedDesc, prometheus.GaugeValue, float64(len(s.owned)))
	ch <- prometheus.MustNewConstMetric(rebalancesDesc, prometheus.CounterValue, float64(s.rebalances.n.Load()))
	for tp := range s.owned {
		labels := []string{tp.Topic, strconv.Itoa(int(tp.Partition))}
		if hw, ok := s.highWater[tp]; ok {
			ch <- prometheus.MustNewConstMetric(lagRecordsDesc, prometheus.GaugeValue, float64(max(hw-s.acked[tp], 0)), labels...)
		}
		age := 0.0
		if q := s.inflight[tp]; len(q) > 0 {
			age = now.Sub(q[0].ts).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, max(age, 0), labels...)
	}
}

var _ prometheus.Collector = (*Source)(nil)

// Command broker runs a one-broker Kafka-protocol cluster (franz-go's
// kfake) as a process of its own, for tests and benchmarks: it persists to
// -data-dir, so it can be stopped (SIGTERM), killed and started again on
// the same port with its topics, transactions and group offsets.
//
//	broker -port 9092 -data-dir /tmp/kafka
//
// It prints its listen address on stdout once it accepts connections.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0: any free one)")
	dir := flag.String("data-dir", "", "directory the broker persists to (empty: memory only)")
	sync := flag.Bool("sync", false, "fsync every write (survives a machine crash, not only a process crash)")
	flag.Parse()
	opts := []kfake.Opt{kfake.Ports(*port), kfake.ListenFn(listenLoopback)}
	if *dir != "" {
		opts = append(opts, kfake.DataDir(*dir))
	}
	if *sync {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "broker: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(c.ListenAddrs()[0])
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
	c.Close() // writes what is buffered to the data dir
}

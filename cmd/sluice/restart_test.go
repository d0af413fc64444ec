package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSourceRestart stops the source server (cleanly, then by crash) while
// a writer keeps inserting and sluice keeps running: sluice must reconnect by
// itself and the target must end equal to the source.
func TestSourceRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.srcExec(`CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), n int);`)
	p := e.start()
	e.waitEqual(30*time.Second, p, "ticks")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var written atomic.Int64
	writerDone := make(chan struct{})
	go func() { // a writer that rides out the outages
		defer close(writerDone)
		for i := 0; ctx.Err() == nil; i++ {
			if err := e.src.Exec(ctx, "app", fmt.Sprintf("INSERT INTO ticks (n) SELECT g FROM generate_series(1, %d) g", 1+i%50)); err == nil {
				written.Add(1)
			} else {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	for _, crash := range []bool{false, true} {
		time.Sleep(2 * time.Second)
		var err error
		if crash {
			err = e.src.Kill()
		} else {
			err = e.src.Stop()
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // sluice retries meanwhile
		if err := e.src.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Logf("source restarted (crash=%v); %d write transactions so far", crash, written.Load())
	}
	time.Sleep(2 * time.Second)
	cancel()
	<-writerDone
	e.waitEqual(90*time.Second, p, "ticks")
	select {
	case err := <-p.done:
		t.Fatalf("sluice exited (%v) instead of reconnecting; log:\n%s", err, p.logText())
	default:
	}
	p.stop(t)
}

// TestTargetCrash crashes the target server (immediate stop: commits not yet
// on its disk are lost) while changes stream in. Sluice keeps retrying;
// once the target is back it must end equal to the source — which holds
// only if nothing was acknowledged to the source before it was on the
// target's disk.
func TestTargetCrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.srcExec(`CREATE TABLE ticks (id bigserial PRIMARY KEY, n int); CREATE TABLE hist (n int);`)
	p := e.start()
	e.waitEqual(30*time.Second, p, "ticks")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ctx.Err() == nil; i++ {
			e.src.Exec(ctx, "app", fmt.Sprintf("INSERT INTO ticks (n) VALUES (%d); INSERT INTO hist VALUES (%d)", i, i))
		}
	}()
	time.Sleep(2 * time.Second)
	if err := e.dst.Kill(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.logText(), "transient failure"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sluice did not notice the target crash; log:\n%s", tail(p.logText(), 3000))
		}
	}
	time.Sleep(2 * time.Second)
	if err := e.dst.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cancel()
	<-writerDone
	e.waitEqual(60*time.Second, p, "ticks", "hist")
	select {
	case err := <-p.done:
		t.Fatalf("sluice exited (%v) instead of retrying", err)
	default:
	}
	p.stop(t)
}

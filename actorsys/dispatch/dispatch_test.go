package dispatch

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPool_RunsEverything(t *testing.T) {
	p := New(4, 0)
	defer p.Close()
	const n = 1000
	var ran atomic.Int64
	var wg sync.WaitGroup
	wg.Add(n)
	for range n {
		p.Schedule(func() { ran.Add(1); wg.Done() })
	}
	wg.Wait()
	if ran.Load() != n {
		t.Fatalf("ran %d functions, want %d", ran.Load(), n)
	}
}

// A mailbox must never wait for a worker: with every worker blocked, new
// work still runs, so actors waiting on each other cannot deadlock.
func TestPool_BusyWorkersDoNotBlock(t *testing.T) {
	const workers = 2
	p := New(workers, 0)
	defer p.Close()
	release := make(chan struct{})
	var blocked sync.WaitGroup
	blocked.Add(workers)
	for range workers {
		p.Schedule(func() { blocked.Done(); <-release })
	}
	blocked.Wait()
	done := make(chan struct{})
	p.Schedule(func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("work scheduled while every worker was busy did not run")
	}
	close(release)
}

func TestPool_ScheduleAfterClose(t *testing.T) {
	p := New(2, 7)
	if p.Throughput() != 7 {
		t.Fatalf("Throughput() = %d, want 7", p.Throughput())
	}
	p.Close()
	p.Close() // idempotent
	done := make(chan struct{})
	p.Schedule(func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("work scheduled after Close did not run")
	}
}

// Command record produces the recorded Go tracebacks in ../ (go-*.txt):
// goroutines blocked in every common way (generic method, deep recursion
// with "...N frames elided...", sync.Mutex, sync.Cond, select{} locked to
// its thread, nil channel, sleep, inlined receive, netpoller read, raw
// read syscall, pprof labels, nested go statements).
//
//	go build -o /tmp/rec ./hoststack/testdata/record
//	/tmp/rec stack > go-stack.txt
//	GOTRACEBACK=all /tmp/rec panic 2> go-panic-all.txt
//	GOTRACEBACK=system /tmp/rec panic 2> go-panic-system.txt
//	GODEBUG=tracebackancestors=3,tracebacklabels=1 /tmp/rec stack > go-ancestors-labels.txt
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

type Box[T any] struct{ v T }

//go:noinline
func (b *Box[T]) Wait(ch chan T) T { return <-ch }

func recurse(n int, ch chan int) int {
	if n == 0 {
		return <-ch
	}
	return recurse(n-1, ch) + 1
}

//go:noinline
func blockRead(f *os.File) {
	buf := make([]byte, 1)
	f.Read(buf)
}

func inl(ch chan int) int { return <-ch } // inlined

func main() {
	mode := os.Args[1]
	ch := make(chan int)
	var mu sync.Mutex
	mu.Lock()
	cond := sync.NewCond(&sync.Mutex{})
	go func() { (&Box[string]{}).Wait(make(chan string)) }()
	go func() { recurse(150, ch) }()
	go func() { mu.Lock() }()
	go func() { cond.L.Lock(); cond.Wait() }()
	go func() { runtime.LockOSThread(); select {} }()
	go func() { var nilch chan int; <-nilch }()
	go func() { time.Sleep(time.Hour) }()
	go func() { x := inl(ch); fmt.Println(x) }()
	r, _, _ := os.Pipe()
	go func() { blockRead(r) }()
	var p [2]int
	syscall.Pipe(p[:])
	go func() { b := make([]byte, 1); syscall.Read(p[0], b) }()
	go func() {
		pprof.Do(context.Background(), pprof.Labels("glassbox.thread", "CPU 0/TCG", "x", "a\"b"), func(context.Context) { <-ch })
	}()
	go func() {
		go func() { go func() { <-ch }() }()
	}()
	time.Sleep(100 * time.Millisecond)
	if mode == "stack" {
		buf := make([]byte, 1<<20)
		os.Stdout.Write(buf[:runtime.Stack(buf, true)])
		return
	}
	panic("recorded traceback")
}

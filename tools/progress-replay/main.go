// Command progress-replay feeds a recorded `buildctl --progress rawjson` stream to BuildKit's own
// progressui display and writes what it prints. bentokit's golden tests compare their Rust
// renderers against these outputs.
//
// Usage: progress-replay MODE IN.json OUT.txt   (MODE: plain or rawjson)
//
// Build it with the faketime tag (see build.sh): the Go runtime then runs on a virtual clock
// that only advances when every goroutine sleeps, so the display's 100 ms rate limiter, its
// 150 ms refresh ticker and its time.Now() calls see exactly the recorded timeline.
// Message k "arrives" at the latest timestamp found in messages 0..k, which is also the
// clock bentokit's replay injects. Output goes to a file because faketime frames stdout/stderr.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
)

func latest(ss *client.SolveStatus) (t time.Time) {
	see := func(x *time.Time) {
		if x != nil && x.After(t) {
			t = *x
		}
	}
	for _, v := range ss.Vertexes {
		see(v.Started)
		see(v.Completed)
	}
	for _, s := range ss.Statuses {
		see(&s.Timestamp)
		see(s.Started)
		see(s.Completed)
	}
	for _, l := range ss.Logs {
		see(&l.Timestamp)
	}
	return t
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: progress-replay plain|rawjson IN.json OUT.txt")
		os.Exit(2)
	}
	in, err := os.Open(os.Args[2])
	if err != nil {
		panic(err)
	}
	var msgs []*client.SolveStatus
	dec := json.NewDecoder(in)
	for {
		var ss client.SolveStatus
		if err := dec.Decode(&ss); err == io.EOF {
			break
		} else if err != nil {
			panic(err)
		}
		msgs = append(msgs, &ss)
	}
	out, err := os.Create(os.Args[3])
	if err != nil {
		panic(err)
	}
	defer out.Close()

	disp, err := progressui.NewDisplay(out, progressui.DisplayMode(os.Args[1]))
	if err != nil {
		panic(err)
	}
	ch := make(chan *client.SolveStatus)
	go func() {
		var clock time.Time
		for _, ss := range msgs {
			if t := latest(ss); t.After(clock) {
				if !clock.IsZero() {
					time.Sleep(t.Sub(clock))
				}
				clock = t
			}
			ch <- ss
		}
		close(ch)
	}()
	if _, err := disp.UpdateFrom(context.Background(), ch); err != nil {
		panic(err)
	}
}

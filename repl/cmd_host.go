package repl

import (
	"fmt"
	"strconv"
)

// Host commands: the emulator's own goroutines (package hoststack through
// target).

type threadJSON struct {
	Thread    int    `json:"thread"`
	Goroutine int64  `json:"goroutine"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	State     string `json:"state"`
	Top       string `json:"top"`
}

func cmdInfoThreads(ctx *Context, _ []string) error {
	snap, err := ctx.T.HostSnapshot()
	if err != nil {
		return err
	}
	list := []threadJSON{}
	for i := len(snap.Goroutines) - 1; i >= 0; i-- {
		g := snap.Goroutines[i]
		top := ""
		if len(g.Frames) > 0 {
			top = g.Frames[0].Func
		}
		list = append(list, threadJSON{g.Thread, g.ID, g.Name, g.Status, g.State, top})
	}
	if ctx.Has("json") {
		return ctx.EmitJSON(map[string]any{"threads": list})
	}
	ctx.Printf("  Id   Goroutine  Name                 State\n")
	for _, th := range list {
		st := th.Status
		if th.State != "" {
			st += " (" + th.State + ")"
		}
		ctx.Printf("  %-4d %-10d %-20q %s\n", th.Thread, th.Goroutine, th.Name, st)
	}
	return nil
}

func cmdThreadsBT(ctx *Context, _ []string) error {
	filter, _ := ctx.Value("filter")
	n := 0
	if v, ok := ctx.Value("n"); ok {
		x, err := strconv.Atoi(v)
		if err != nil || x <= 0 {
			return fmt.Errorf("-n %q: want a positive number of frames", v)
		}
		n = x
	}
	return ctx.T.HostThreads(ctx.Out, ctx.Has("group"), filter, n)
}

func cmdAnalyzeHang(ctx *Context, _ []string) error {
	rep, err := ctx.T.AnalyzeHang()
	if err != nil {
		return err
	}
	ctx.Printf("%s", rep.String())
	return nil
}

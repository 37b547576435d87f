package sandbox

import (
	"slices"
	"testing"

	"github.com/berth-cri/berth/internal/lifecycle"
)

// events drains what sub received.
func events(sub *lifecycle.Subscription) []lifecycle.Kind {
	var out []lifecycle.Kind
	for {
		select {
		case ev := <-sub.C():
			out = append(out, ev.Kind)
		default:
			return out
		}
	}
}

// kubelet's evented PLEG takes the sandbox events as the pod's history: a
// sandbox is announced once it is ready, stopped once, deleted once, and
// one that never became ready is never announced at all.
func TestSandboxEventsMatchItsLife(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*env)
		life  func(*env)
		want  []lifecycle.Kind
	}{
		{
			name: "run, stop twice, remove",
			life: func(e *env) {
				id := e.run(pausePod("web"))
				for range 2 {
					if err := e.m.Stop(reqCtx(e.t), id); err != nil {
						e.t.Fatal(err)
					}
				}
				if err := e.m.Remove(reqCtx(e.t), id); err != nil {
					e.t.Fatal(err)
				}
			},
			want: []lifecycle.Kind{lifecycle.Created, lifecycle.Started, lifecycle.Stopped, lifecycle.Deleted},
		},
		{
			name:  "run refused by an NRI plugin",
			setup: func(e *env) { e.j.failStep("nri.run", errInjected) },
			life: func(e *env) {
				if _, err := e.m.Run(reqCtx(e.t), infralessPod("web"), ""); err == nil {
					e.t.Fatal("Run succeeded")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			hub := lifecycle.NewHub()
			e.cfg.Events = hub
			e.m = e.newManager()
			sub := hub.Subscribe(16)
			defer sub.Close()
			if tc.setup != nil {
				tc.setup(e)
			}
			tc.life(e)
			if got := events(sub); !slices.Equal(got, tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
			e.assertNothingLeft()
		})
	}
}

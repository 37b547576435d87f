package harness

import "testing"

func TestDataRaces(t *testing.T) {
	report := "WARNING: DATA RACE\nWrite at 0x00c by goroutine 7:\n  main.f()\n"
	for _, tc := range []struct{ name, log, want string }{
		{"a clean log", "level=info msg=ready\n", ""},
		{"one report among log lines", "level=info msg=a\n==================\n" + report + "==================\nlevel=info msg=b\n", report},
		{"two reports", "==================\n" + report + "==================\n==================\n" + report + "==================\n", report + report},
		{"a report cut off by the exit", "==================\n" + report, report},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dataRaces(tc.log); got != tc.want {
				t.Errorf("dataRaces = %q, want %q", got, tc.want)
			}
		})
	}
}

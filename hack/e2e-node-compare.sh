#!/usr/bin/env bash
# e2e-node-compare.sh puts a node conformance run against Berth beside one
# against containerd's CRI (hack/e2e-node.sh, RUNTIME=containerd) on the
# same machine: a markdown table of passed, failed and skipped per spec
# group for each runtime (after a line per run: its start, ginkgo's run
# time, and the versions and procs of its summary.txt), then the specs
# only Berth fails (Berth bugs),
# the specs only containerd fails, and those both fail (this machine's
# limits, which belong in test/e2e-node/expected-failures.txt). Specs the
# focus and skip left out are not counted; a spec only one run reached
# (a run stopped early) is listed apart.
#
# Usage: hack/e2e-node-compare.sh BERTH_LOGS_DIR CONTAINERD_LOGS_DIR
#   (each a KEEP_LOGS_DIR of hack/e2e-node.sh, holding report.json)
set -euo pipefail

[[ $# -eq 2 ]] || {
	echo "usage: $0 BERTH_LOGS_DIR CONTAINERD_LOGS_DIR" >&2
	exit 2
}
for d in "$@"; do
	[[ -s "${d}/report.json" ]] || {
		echo "e2e-node-compare: no ${d}/report.json" >&2
		exit 1
	}
done

python3 - "$1" "$2" <<'PY'
import json, os, sys

def run_line(runtime, d):
    """when the run started, how long ginkgo ran, and its summary's first line."""
    with open(os.path.join(d, "report.json")) as f:
        suite = json.load(f)[0]
    summary = ""
    try:
        with open(os.path.join(d, "summary.txt")) as f:
            summary = f.readline().strip().removeprefix("e2e-node: ")
    except OSError:
        pass
    start = suite.get("StartTime", "?")[:19].replace("T", " ")
    secs = round(suite.get("RunTime", 0) / 1e9)
    return f"- {runtime}: started {start} UTC, ginkgo {secs} s ({summary})"

print(run_line("Berth", sys.argv[1]))
print(run_line("containerd", sys.argv[2]))
print()

def outcomes(path):
    """spec name -> (group, outcome) for the specs the run selected."""
    out = {}
    with open(path) as f:
        suites = json.load(f)
    for suite in suites:
        for s in suite.get("SpecReports") or []:
            if s.get("LeafNodeType") != "It":
                continue
            texts = s.get("ContainerHierarchyTexts") or []
            name = " ".join(texts + [s.get("LeafNodeText", "")]).strip()
            group = texts[0].strip() if texts else "(top level)"
            state = s.get("State")
            msg = (s.get("Failure") or {}).get("Message", "")
            if state in ("skipped", "pending"):
                if not msg:
                    continue  # filtered out by --focus / --skip
                state = "skipped"
            elif state != "passed":
                state = "failed"
            out[name] = (group, state)
    return out

berth = outcomes(os.path.join(sys.argv[1], "report.json"))
ctrd = outcomes(os.path.join(sys.argv[2], "report.json"))
groups = {}
for runtime, res in (("berth", berth), ("containerd", ctrd)):
    for name, (group, state) in res.items():
        groups.setdefault(group, {}).setdefault(runtime, {"passed": 0, "failed": 0, "skipped": 0})
        groups[group][runtime][state] += 1

cols = ("passed", "failed", "skipped")
print("| Spec group | Berth passed | Berth failed | Berth skipped | containerd passed | containerd failed | containerd skipped |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
total = {"berth": dict.fromkeys(cols, 0), "containerd": dict.fromkeys(cols, 0)}
for g in sorted(groups):
    row = [g.replace("|", "\\|")]
    for runtime in ("berth", "containerd"):
        c = groups[g].get(runtime, dict.fromkeys(cols, 0))
        for k in cols:
            row.append(str(c[k]))
            total[runtime][k] += c[k]
    print("| " + " | ".join(row) + " |")
print("| **total** | " + " | ".join(str(total[r][k]) for r in ("berth", "containerd") for k in cols) + " |")

def section(title, names):
    print(f"\n{title}: {len(names)}")
    for n in sorted(names):
        print(f"- {n}")

both = set(berth) & set(ctrd)
section("Berth fails, containerd passes", [n for n in both if berth[n][1] == "failed" and ctrd[n][1] == "passed"])
section("containerd fails, Berth passes", [n for n in both if ctrd[n][1] == "failed" and berth[n][1] == "passed"])
section("Both fail", [n for n in both if berth[n][1] == "failed" and ctrd[n][1] == "failed"])
section("Skipped by one runtime only", [n for n in both if (berth[n][1] == "skipped") != (ctrd[n][1] == "skipped")])
section("Reached by one run only", set(berth) ^ set(ctrd))
PY

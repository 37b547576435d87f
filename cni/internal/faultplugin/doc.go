// Command faultplugin is a CNI plugin for Berth's tests, never shipped. It
// fails or stalls any verb on demand and logs every call, so tests can
// prove what Berth does when a plugin misbehaves.
//
// Its config names a control directory:
//
//	{"type": "berth-fault", "controlDir": "/tmp/x", "ips": ["10.99.0.5/24"]}
//
// For each call with verb V (ADD, DEL, CHECK, GC, STATUS) it:
//   - appends "start V <containerID>" to <controlDir>/calls;
//   - saves its stdin and CNI_ARGS to <controlDir>/V-<containerID>.json;
//   - sleeps for the duration in <controlDir>/sleep-V, if that file exists;
//   - fails with the text of <controlDir>/fail-V, if that file exists;
//   - appends "end V <containerID>" to <controlDir>/calls.
//
// On ADD it passes a previous result through, or, first in a chain,
// returns its "ips" on CNI_IFNAME in the sandbox.
package main

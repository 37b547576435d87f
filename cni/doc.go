// Package cni owns a pod sandbox's CNI attachment: choosing the network
// config, running the plugin chain (ADD, CHECK, DEL, GC, STATUS) through
// libcni, and remembering enough to undo an ADD later.
//
// The lead calls:
//
//	m, err := cni.New(cni.Config{ConfDir, BinDirs, StateDir})
//	err = m.Ready()                       // NetworkReady reason, cheap
//	err = m.Status(ctx)                   // Ready plus CNI STATUS (cniVersion >= 1.1.0)
//	res, err := m.Setup(ctx, cni.SandboxNetwork{...}) // CNI ADD
//	err = m.Check(ctx, sandboxID)         // CNI CHECK
//	err = m.Teardown(ctx, sandboxID)      // CNI DEL; idempotent
//	err = m.GC(ctx, liveSandboxIDs)       // at start, after recovery
//
// # Config
//
// The network is the first file in ConfDir, in lexical order, with the
// extension .conflist, .conf or .json that parses into a plugin chain
// (files that do not parse are skipped and named in Ready's error, as the
// kubelet's CNI code used to do). A .conf or .json holding one plugin is
// run as a chain of one.
//
// The directory is re-read on every Ready, Status and Setup call, and the
// chain re-parsed only when the files' contents changed. A content check
// was chosen over fsnotify: the files are a few hundred bytes, the kubelet
// calls Status every few seconds anyway so a new config makes the node
// Ready within one call, there is no watcher goroutine to keep alive or
// inotify event to miss (a directory that is deleted and re-created, a
// ConfigMap symlink swap, an overflowed queue), and content hashing does not
// depend on mtime granularity.
//
// # Undoing an ADD
//
// Before it runs ADD, Setup writes a record of the attachment to
// StateDir/attachments/<id>.json: the exact plugin chain (plugins loaded
// from side files are inlined), the CNI_ARGS and the capability args. The
// record is written first because a chain that fails halfway has already
// allocated (an IP, a veth, iptables rules) and libcni caches nothing for a
// failed ADD. Teardown runs DEL from that record, so it works after the
// config directory changed, after berthd restarted, after a half-failed
// ADD, and when the namespace is gone (plugins then get an empty
// CNI_NETNS, as containerd and CRI-O pass). It also deletes any attachment
// libcni itself cached for the ID (StateDir/cache, libcni's result cache,
// which gives DEL its prevResult). With nothing recorded and nothing
// cached, Teardown does nothing and succeeds. A failed DEL keeps the record
// so a later Teardown can retry.
//
// So callers register a Teardown (on a fresh, bounded context) right after
// Setup is called, whether or not Setup returned an error.
//
// # Plugins that would do nothing
//
// A plugin that acts only on a capability arg the sandbox does not have is
// left out of its chain (idle.go): portmap for a pod without host ports,
// whose ADD and DEL would only probe iptables. The record holds the chain
// ADD ran, so DEL and CHECK run the same plugins. This is one of Berth's
// shortcuts (docs/architecture.md): it relies on portmap adding nothing
// without port mappings, and Config.KeepIdlePlugins turns it off.
//
// # Concurrency
//
// Calls for one sandbox ID are serialised, as the CNI spec requires; calls
// for different IDs run in parallel and no lock is held across plugin
// execution for other IDs. GC excludes every other call while it runs,
// because a sandbox being set up concurrently would look stale to it.
//
// This package does not create or remove network namespaces
// (sandbox/netns), reserve host ports (portmap) or clean conntrack
// (conntrack).
package cni

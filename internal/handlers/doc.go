// Package handlers owns the runtime handlers berthd serves: the names a
// Kubernetes RuntimeClass's handler (CRI's runtime_handler) may take, the
// containerd runtime and shim options each maps to, which one an empty
// handler means, and what each supports.
//
// Contracts:
//   - Lookup of a name that is not configured is InvalidArgument naming
//     the configured ones, before anything is made; "" is the default.
//   - A handler's shim options are built once, at start, and each caller
//     gets its own copy to change.
//   - runc-type handlers (io.containerd.runc.v2) get the OCI runtime
//     binary, its state root and SystemdCgroup from the node's cgroup
//     driver; options of other shims are theirs (Kata's and gVisor's
//     ConfigPath), as containerd's runtimes table gives them.
//   - Features are probed once, at start, by asking containerd for the
//     shim's runtime info (which runs `<runtime> features` for runc-type
//     shims), and reported false where the runtime cannot say: kubelet
//     then refuses what the runtime might not do, rather than running it
//     unsafely.
//
// It does not pick the snapshotter: every handler's containers and images
// use the overlayfs snapshotter berthd unpacks into.
package handlers

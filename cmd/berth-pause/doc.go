// Command berth-pause is the first process of every Berth pod sandbox.
//
// It owns three jobs and nothing else: it holds the sandbox's namespaces
// open by staying alive, it reaps the zombies that the kernel re-parents
// to it (it runs as PID 1 of a shared PID namespace, or as a child
// subreaper when it is not PID 1), and it exits 0 on SIGINT or SIGTERM
// so that stopping a sandbox is quick and reads as a clean exit.
//
// It does not run workloads, serve anything or read configuration. It is
// built static (CGO_ENABLED=0) from the standard library alone so that the
// pause image holds one file.
package main

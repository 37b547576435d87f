// Package unixsock makes listening unix sockets with a given mode without
// touching the process's umask, which every goroutine shares: berthd
// creates its sockets while others write files.
//
// Contract: the socket appears at path already with mode perm; nobody can
// connect to it before then, because it is bound and chmodded under a
// fresh 0700 directory beside path and renamed into place. Closing the
// listener removes path. The caller removes any stale socket at path.
//
// A listener can be handed to another process (berthd re-executing itself
// on an upgrade): File gives its descriptor and leaves path in place when
// the listener is closed afterwards, because the socket now belongs to the
// receiver; the receiver wraps the descriptor again with FromFile. The
// socket is never closed in between, so clients connecting meanwhile wait
// in its backlog instead of being refused.
package unixsock

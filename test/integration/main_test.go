// Package integration drives a real berthd, with its embedded containerd,
// runc and CNI plugins, over the CRI socket, as kubelet and crictl do.
package integration

import (
	"context"
	"os"
	"time"
)

func ctxTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

package streaming

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// dialTimeout bounds the connection to the pod's port.
const dialTimeout = 10 * time.Second

// PortForward copies one forwarded connection between the client's stream
// and localhost:port in the pod's network namespace, trying IPv4 and then
// IPv6 loopback as kubelet's own forwarder does. It returns when the pod
// side closes or the session ends; the client closing its side only
// half-closes the pod connection, so the server's answer still arrives.
func (r *Runtime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("port %d is out of range: %w", port, errdefs.ErrInvalidArgument)
	}
	sb, err := r.cfg.Sandboxes.Get(sandboxID)
	if err != nil {
		return err
	}
	if st := sb.Status(); st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	var conn net.Conn
	dial := func() error {
		var errs []error
		for _, host := range []string{"127.0.0.1", "::1"} {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(int(port))), dialTimeout)
			if err == nil {
				conn = c
				return nil
			}
			errs = append(errs, err)
		}
		return fmt.Errorf("connect to port %d in sandbox %s: %v", port, sb.ID, errs)
	}
	if sb.HostNetwork() || sb.NetNSPath == "" {
		err = dial()
	} else {
		err = inNetNS(sb.NetNSPath, dial)
	}
	if err != nil {
		return err
	}
	defer conn.Close()

	go func() {
		// The client's half ends here however it ends; the copy back
		// to it below reports what went wrong with the connection.
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(stream, conn)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("copy from port %d in sandbox %s: %w", port, sb.ID, err)
		}
		return nil
	case <-ctx.Done():
		return nil
	}
}

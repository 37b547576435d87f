package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// testPKI is a throwaway CA and what it signed, as PEM files.
type testPKI struct {
	dir                   string
	ca                    *x509.Certificate
	caKey                 *ecdsa.PrivateKey
	caFile                string
	serverCert, serverKey string
	clientCert, clientKey string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	var err error
	if p.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "berth test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	// The streaming server is reached at 127.0.0.1: that is the name
	// the client checks.
	p.serverCert, p.serverKey = p.issue(t, "server", 2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	p.clientCert, p.clientKey = p.issue(t, "client", 3, x509.ExtKeyUsageClientAuth, nil)
	return p
}

func (p *testPKI) issue(t *testing.T, name string, serial int64, usage x509.ExtKeyUsage, ips []net.IP) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "berth test " + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStreamingTLS(t *testing.T) {
	pki := newTestPKI(t)
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir), harness.WithConfig(fmt.Sprintf(
		"[streaming]\ntls_cert_file = %q\ntls_key_file = %q\n", pki.serverCert, pki.serverKey)))
	image := mustPull(t, d, busyboxRef)
	podID, podCfg := runPod(t, d)
	ctr := runContainer(t, d, podID, podCfg, ctrConfig(image))

	resp, err := d.Runtime.Exec(ctxBG(t), &runtimeapi.ExecRequest{ContainerId: ctr, Cmd: []string{"true"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(resp.Url)
	if err != nil || u.Scheme != "https" || !strings.HasPrefix(u.Host, "127.0.0.1:") {
		t.Fatalf("exec URL %q (%v), want https on 127.0.0.1", resp.Url, err)
	}

	t.Run("CertificateFromTheCA", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(pki.ca)
		conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("TLS to the streaming server, trusting the test CA: %v", err)
		}
		conn.Close()
		// A client that does not trust the CA is refused the session.
		_, err = tls.Dial("tcp", u.Host, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"})
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("TLS without trusting the test CA: %v, want an unknown authority", err)
		}
	})

	t.Run("ExecOverTLS", func(t *testing.T) {
		// crictl checks the server against --tls-ca, by the name in the
		// URL (its default is localhost); it wants a client certificate
		// too, which the server does not ask for.
		r := crictl(t, d, "over tls\n", "exec", "--tls-sni", "127.0.0.1", "--tls-ca", pki.caFile, "--tls-cert", pki.clientCert, "--tls-key", pki.clientKey,
			"-i", ctr, "sh", "-c", "cat; echo done; exit 3")
		if r.stdout != "over tls\ndone\n" || !strings.Contains(r.stderr, "exit code 3") {
			t.Fatalf("exec over TLS = stdout %q stderr %q exit %d, want the input back, done and exit code 3", r.stdout, r.stderr, r.exitCode)
		}
	})

	t.Run("PortForwardOverTLS", func(t *testing.T) {
		l, _ := listenInPod(t, d, podID, "tcp", "127.0.0.1:0")
		serveGreeting(l, "hello over tls")
		got := portForward(t, d, podID, l.Addr().(*net.TCPAddr).Port,
			"--tls-sni", "127.0.0.1", "--tls-ca", pki.caFile, "--tls-cert", pki.clientCert, "--tls-key", pki.clientKey)
		if got != "hello over tls" {
			t.Fatalf("port-forward over TLS read %q", got)
		}
	})

	t.Run("ExecRefusedWithoutTheCA", func(t *testing.T) {
		other := newTestPKI(t)
		r := crictl(t, d, "", "exec", "--tls-sni", "127.0.0.1", "--tls-ca", other.caFile, "--tls-cert", other.clientCert, "--tls-key", other.clientKey, ctr, "echo", "leaked")
		if r.exitCode == 0 || strings.Contains(r.stdout, "leaked") || !strings.Contains(r.stderr, "certificate signed by unknown authority") {
			t.Fatalf("exec trusting another CA = stdout %q stderr %q exit %d, want a certificate error", r.stdout, r.stderr, r.exitCode)
		}
	})
}

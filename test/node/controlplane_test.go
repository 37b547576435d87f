package node

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The control plane a check brings up inside the VM: etcd and
// kube-apiserver on the node's loopback, with the flags hack/e2e-cluster.sh
// gives them (token authentication, Node and RBAC authorization,
// NodeRestriction, service account keys). No controller-manager and no
// scheduler: the checks name the node in the pod (spec.nodeName) and make
// the default ServiceAccount themselves. The PKI is made here with Go's
// crypto (the image has no openssl): a CA, the API server's serving
// certificate for 127.0.0.1, and the service account key pair, all P-256,
// which TCG makes in a moment where RSA takes seconds.
const (
	etcdURL = "http://127.0.0.1:2379"
	apiURL  = "https://127.0.0.1:6443"
	// nodeName is the name kubelet registers (--hostname-override); its
	// token is system:node:<nodeName>, as the Node authorizer wants.
	nodeName = "berth-node"
)

type controlPlane struct {
	dir    string
	tokens map[string]string // admin, kubelet
	client *http.Client
}

// startControlPlane starts etcd and kube-apiserver as transient systemd
// units, waits until etcd is healthy (not for the API server: see
// waitReady), and stops them (their journals saved to the payload's
// results) when the test ends.
func startControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	nodeDir := os.Getenv("BERTH_NODE_DIR")
	for _, b := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(nodeDir, "bin", b)); err != nil {
			t.Fatalf("no %s in the payload (hack/e2e-cluster-build.sh builds it): %v", b, err)
		}
	}
	cp := &controlPlane{dir: "/var/lib/berth-node-cp", tokens: map[string]string{}}
	_ = os.RemoveAll(cp.dir)
	if err := os.MkdirAll(cp.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	caPEM := cp.writePKI(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cp.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	var tokens strings.Builder
	for _, who := range []string{"admin", "kubelet"} {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		cp.tokens[who] = hex.EncodeToString(b)
	}
	fmt.Fprintf(&tokens, "%s,admin,admin,system:masters\n", cp.tokens["admin"])
	fmt.Fprintf(&tokens, "%s,system:node:%s,kubelet,system:nodes\n", cp.tokens["kubelet"], nodeName)
	cp.write(t, "tokens.csv", tokens.String())
	for who := range cp.tokens {
		cp.write(t, who+".kubeconfig", cp.kubeconfig(who))
	}

	t.Cleanup(func() { cp.stop(t) })
	bin := filepath.Join(nodeDir, "bin")
	startUnit(t, "berth-node-etcd", filepath.Join(bin, "etcd"), "--name", "node", "--data-dir", filepath.Join(cp.dir, "etcd"),
		"--unsafe-no-fsync", "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "node=http://127.0.0.1:2380")
	waitFor(t, "etcd's /health", 3*time.Minute, func() bool {
		unitAlive(t, "berth-node-etcd")
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var h struct{ Health string }
		return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Health == "true"
	})
	p := func(f string) string { return filepath.Join(cp.dir, f) }
	// No kube-proxy and no endpoint reconciler (it could publish only
	// loopback, which EndpointSlices refuse), as in hack/e2e-cluster.sh.
	startUnit(t, "berth-node-apiserver", filepath.Join(bin, "kube-apiserver"), "--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", "6443",
		"--cert-dir", p("apiserver"), "--tls-cert-file", p("apiserver.crt"), "--tls-private-key-file", p("apiserver.key"),
		"--client-ca-file", p("ca.crt"), "--token-auth-file", p("tokens.csv"),
		"--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", p("sa.pub"),
		"--service-account-signing-key-file", p("sa.key"), "--service-cluster-ip-range", "10.0.0.0/24",
		"--endpoint-reconciler-type", "none", "--allow-privileged=true", "--profiling=false")
	return cp
}

// waitReady waits for the API server's /readyz. TCG: its start (Go's
// init, its post-start hooks, the bootstrap RBAC policy) takes minutes here
// where it takes seconds on metal.
func (cp *controlPlane) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, "kube-apiserver's /readyz", 8*time.Minute, func() bool {
		unitAlive(t, "berth-node-apiserver")
		var out []byte
		return cp.get("/readyz", &out) == nil && string(out) == "ok"
	})
}

func (cp *controlPlane) write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(cp.dir, name), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writePKI writes ca.crt, apiserver.{crt,key} and sa.{key,pub}; it returns
// the CA certificate.
func (cp *controlPlane) writePKI(t *testing.T) []byte {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyPEM := func(k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}
	now := time.Now().Add(-time.Hour)
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth-node-ca"},
		NotBefore: now, NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey := newKey()
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now, NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	saKey := newKey()
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	cp.write(t, "ca.crt", string(caPEM))
	cp.write(t, "apiserver.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER})))
	cp.write(t, "apiserver.key", keyPEM(srvKey))
	cp.write(t, "sa.key", keyPEM(saKey))
	cp.write(t, "sa.pub", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})))
	return caPEM
}

func (cp *controlPlane) kubeconfig(who string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: node
  cluster: {server: %q, certificate-authority: %q}
users:
- name: %s
  user: {token: %q}
contexts:
- name: node
  context: {cluster: node, user: %s}
current-context: node
`, apiURL, filepath.Join(cp.dir, "ca.crt"), who, cp.tokens[who], who)
}

func (cp *controlPlane) kubeconfigPath(who string) string {
	return filepath.Join(cp.dir, who+".kubeconfig")
}

// get reads an API path as admin into out: a *[]byte takes the body as it
// is, anything else is decoded from JSON. A status other than 200 is an
// error naming it.
func (cp *controlPlane) get(path string, out any) error {
	req, err := http.NewRequest(http.MethodGet, apiURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cp.tokens["admin"])
	resp, err := cp.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(body.String()))
	}
	if b, ok := out.(*[]byte); ok {
		*b = body.Bytes()
		return nil
	}
	return json.Unmarshal(body.Bytes(), out)
}

// kubectl runs the payload's kubectl as admin; stdin, when not empty, is
// its input (a manifest for apply -f -).
func (cp *controlPlane) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(os.Getenv("BERTH_NODE_DIR"), "bin", "kubectl"),
		append([]string{"--kubeconfig", cp.kubeconfigPath("admin"), "--request-timeout=60s"}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// kubectlRetry runs an idempotent kubectl command until it succeeds, for
// up to three minutes: on a loaded machine under TCG a request can fail on
// client-go's fixed 10 s TLS handshake timeout.
func (cp *controlPlane) kubectlRetry(t *testing.T, stdin string, args ...string) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(2 * time.Second) {
		out, err := cp.kubectl(stdin, args...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}

// stop stops the API server and etcd, saves their journals next to the
// VM's other logs, and removes their data.
func (cp *controlPlane) stop(t *testing.T) {
	for _, u := range []string{"berth-node-apiserver", "berth-node-etcd"} {
		_, _ = runOut("systemctl", "stop", u+".service")
		if out, err := runOut("journalctl", "-u", u+".service", "--no-pager"); err == nil {
			_ = os.WriteFile(filepath.Join(os.Getenv("BERTH_NODE_DIR"), "results", strings.TrimPrefix(u, "berth-node-")+".log"), []byte(out+"\n"), 0o644)
		}
		_, _ = runOut("systemctl", "reset-failed", u+".service")
	}
	_ = os.RemoveAll(cp.dir)
}

// startUnit runs a daemon as a transient systemd unit (as TestKubelet runs
// kubelet), after clearing a failed unit of that name a previous run left.
// systemd restarts it when it fails: on a loaded machine under TCG the API
// server's start can outlast one of its post-start hooks' fixed deadlines
// (start-service-ip-repair-controllers), which ends the process; a second
// start, with etcd's data in place, is quicker.
func startUnit(t *testing.T, unit, bin string, args ...string) {
	t.Helper()
	_, _ = runOut("systemctl", "reset-failed", unit+".service")
	run(t, "systemd-run", append([]string{"--quiet", "--unit=" + unit, "--property=Type=exec",
		"--property=Restart=on-failure", "--property=RestartSec=5", bin}, args...)...)
}

// unitAlive fails the test with the unit's last log lines when it failed
// for good: stopped, or restarted more than twice.
func unitAlive(t *testing.T, unit string) {
	t.Helper()
	state, _ := runOut("systemctl", "is-active", unit+".service")
	restarts, _ := runOut("systemctl", "show", "-p", "NRestarts", "--value", unit+".service")
	if (state != "active" && state != "activating") || (restarts != "0" && restarts != "1" && restarts != "2") {
		t.Fatalf("%s is %s after %s restarts: %s", unit, state, restarts,
			run(t, "journalctl", "-u", unit+".service", "-o", "cat", "--no-pager", "-n", "20"))
	}
}

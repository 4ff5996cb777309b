package harness

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestKubeRules(t *testing.T) {
	save := `-P INPUT ACCEPT
-N KUBE-FIREWALL
-N KUBE-SERVICES
-N CNI-FORWARD
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -j CNI-FORWARD
-A KUBE-SERVICES -d 10.5.1.1/32 -j KUBE-SVC-X
-A OUTPUT -m conntrack --ctstate NEW -j KUBE-SERVICES
`
	rules, chains := kubeRules(save)
	wantRules := []string{
		"-A INPUT -j KUBE-FIREWALL",
		`-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD`,
		"-A OUTPUT -m conntrack --ctstate NEW -j KUBE-SERVICES",
	}
	if !reflect.DeepEqual(rules, wantRules) {
		t.Errorf("rules %q; want %q", rules, wantRules)
	}
	if want := []string{"KUBE-FIREWALL", "KUBE-SERVICES"}; !reflect.DeepEqual(chains, want) {
		t.Errorf("chains %q; want %q", chains, want)
	}
}

// TestPKI: every certificate verifies against the CA for its use, keys
// are private, and the kubeconfig names the files.
func TestPKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := p.issue("apiserver", "kube-apiserver", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := p.issue("admin", "admin", []string{"system:masters"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	load := func(path string) *x509.Certificate {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	s := load(srv.crt)
	if _, err := s.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving certificate: %v", err)
	}
	c := load(cli.crt)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("a client certificate verifies for serving")
	}
	if c.Subject.Organization[0] != "system:masters" {
		t.Errorf("organization %v", c.Subject.Organization)
	}
	for _, k := range []string{srv.key, cli.key, filepath.Join(dir, "ca.key")} {
		if st, err := os.Stat(k); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", k, err, st.Mode())
		}
	}
	kc := filepath.Join(dir, "admin.kubeconfig")
	if err := p.kubeconfig(kc, "https://127.0.0.1:6443", cli); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(kc)
	for _, want := range []string{"server: https://127.0.0.1:6443", "certificate-authority: " + p.CA(), "client-key: " + cli.key} {
		if !strings.Contains(string(b), want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, b)
		}
	}
}

func TestReadMarker(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, text string
		owner      int
		made       []string
		ok         bool
	}{
		{"full", clusterMarker + "\nowner 42\nmade /var/lib/kubelet\nmade /var/log/containers\n", 42, []string{"/var/lib/kubelet", "/var/log/containers"}, true},
		// A planted path is never taken as the kubelet's to remove.
		{"foreign path", clusterMarker + "\nowner 7\nmade /etc\n", 7, nil, true},
		{"not ours", "# something else\nowner 42\n", 0, nil, false},
		{"missing", "", 0, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if tc.text != "" {
				if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			owner, made, ok := readMarker(path)
			if owner != tc.owner || !reflect.DeepEqual(made, tc.made) || ok != tc.ok {
				t.Errorf("readMarker: %d %q %v; want %d %q %v", owner, made, ok, tc.owner, tc.made, tc.ok)
			}
		})
	}
}

package upstreamtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// PKI is a throw-away certificate authority for TLS tests, with one server
// certificate (for 127.0.0.1 and ServerName) and one client certificate it
// signed, all PEM as a user would paste them into the config page.
type PKI struct {
	CAPEM         string
	ClientCertPEM string
	ClientKeyPEM  string
	// ServerName is the one DNS name of the server certificate besides
	// 127.0.0.1, for tests of tlsServerName.
	ServerName string

	ca         *x509.Certificate
	serverCert tls.Certificate
}

// NewPKI generates a CA, a server and a client certificate (ECDSA P-256).
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "traceweave test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{CAPEM: pemOf("CERTIFICATE", caDER), ServerName: "upstream.traceweave.test", ca: ca}

	srvKey := newKey(t)
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: p.ServerName},
		DNSNames:     []string{p.ServerName},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.serverCert = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}

	cliKey := newKey(t)
	cliDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "traceweave test client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, &cliKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ClientCertPEM, p.ClientKeyPEM = pemOf("CERTIFICATE", cliDER), pemOf("EC PRIVATE KEY", keyDER)
	return p
}

// StartTLS serves h over TLS with the PKI's server certificate; with
// requireClientCert the server refuses clients without a certificate the
// CA signed (tls.RequireAndVerifyClientCert).
func (p *PKI) StartTLS(t testing.TB, h http.Handler, requireClientCert bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = p.ServerTLS()
	if requireClientCert {
		srv.TLS.ClientCAs = p.Roots()
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	// The server's own handshake failures (a client without the CA) are
	// the tests' expected outcome, not noise for the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// ServerTLS is the TLS configuration of a server with the PKI's server
// certificate (kfake.TLS takes it for a TLS-only test broker).
func (p *PKI) ServerTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.serverCert}, MinVersion: tls.VersionTLS12}
}

// Roots is a pool holding the PKI's CA, for test clients that trust it.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return pool
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// HeaderRecorder is an upstream that records the headers of every request
// and answers 500, for tests of what a client sends and of what its errors
// leave out.
type HeaderRecorder struct {
	mu   sync.Mutex
	seen []http.Header
}

func (h *HeaderRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, r.Header.Clone())
	h.mu.Unlock()
	http.Error(w, "upstream broke", http.StatusInternalServerError)
}

// Seen returns the headers of the requests so far.
func (h *HeaderRecorder) Seen() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

package models

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
)

// validateHTTPUpstream checks the custom headers and TLS settings of the
// upstream whose jsonData section and secureJsonData keys start with prefix
// ("tempo", "loki"). Messages name the field and never quote a secret: a
// header value or a PEM is never part of them.
func validateHTTPUpstream(prefix string, h HTTPUpstream, bad func(field, format string, args ...any)) {
	seen := map[string]int{}
	for i, hd := range h.Headers {
		field := fmt.Sprintf("%s.headers[%d].name", prefix, i)
		canon := http.CanonicalHeaderKey(hd.Name)
		switch {
		case hd.Name == "":
			bad(field, "is empty")
			continue
		case !isToken(hd.Name):
			bad(field, "%q is not an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", clip(hd.Name))
			continue
		}
		if first, ok := seen[canon]; ok {
			bad(field, "header %q is also %s.headers[%d]; set each header once", clip(hd.Name), prefix, first)
		}
		seen[canon] = i
		switch {
		case canon == "Authorization" && h.BasicAuthUser != "":
			bad(field, "Authorization would override %s.basicAuthUser's basic auth; remove the header or the basic auth", prefix)
		case canon == "Authorization" && h.BearerToken != "":
			bad(field, "Authorization would override secureJsonData.%sBearerToken; remove the header or the bearer token", prefix)
		case canon == "X-Scope-Orgid" && h.Tenant != "":
			bad(field, "X-Scope-OrgID would override %s.tenant; remove the header or the tenant", prefix)
		}
	}
	if h.TLSAuthWithCACert {
		key := "secureJsonData." + prefix + "TLSCACert"
		if strings.TrimSpace(h.TLSCACert) == "" {
			bad(prefix+".tlsAuthWithCACert", "is on but %s is empty; paste the CA certificate (PEM)", key)
		} else if problem := checkCertPEM(h.TLSCACert); problem != "" {
			bad(key, "%s", problem)
		}
	}
	if h.TLSAuth {
		certKey, keyKey := "secureJsonData."+prefix+"TLSClientCert", "secureJsonData."+prefix+"TLSClientKey"
		switch {
		case strings.TrimSpace(h.TLSClientCert) == "":
			bad(prefix+".tlsAuth", "is on but %s is empty; paste the client certificate (PEM)", certKey)
		case strings.TrimSpace(h.TLSClientKey) == "":
			bad(prefix+".tlsAuth", "is on but %s is empty; paste the client key (PEM)", keyKey)
		default:
			if problem := checkCertPEM(h.TLSClientCert); problem != "" {
				bad(certKey, "%s", problem)
			} else if _, err := tls.X509KeyPair([]byte(h.TLSClientCert), []byte(h.TLSClientKey)); err != nil {
				// tls's messages describe the mismatch or the
				// unreadable key, never quote it.
				bad(keyKey, "is not a PEM private key matching %s: %v", certKey, err)
			}
		}
	}
	if h.TLSServerName != "" && strings.ContainsAny(h.TLSServerName, " /:") {
		bad(prefix+".tlsServerName", "%q is not a host name (no scheme, port or path)", clip(h.TLSServerName))
	}
}

// checkCertPEM says what is wrong with a PEM that should hold certificates,
// or "" when every block is a readable certificate.
func checkCertPEM(s string) string {
	rest, n := []byte(s), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return fmt.Sprintf("holds a %q PEM block where a CERTIFICATE is expected", clip(b.Type))
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Sprintf("certificate %d is unreadable: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return "is not PEM: expected -----BEGIN CERTIFICATE-----"
	}
	if strings.TrimSpace(string(rest)) != "" {
		return "has text after the last certificate that is not PEM"
	}
	return ""
}

// isToken reports whether s is an RFC 7230 token (a header field name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

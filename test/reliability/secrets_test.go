package reliability

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/traceweave/traceweave/internal/harness"
)

// authVariant is one way of configuring credentials for every source.
type authVariant struct {
	name        string
	tempo, loki tempoAuth
	secure      map[string]string
	jsonData    func(tempoURL, lokiURL string, brokers []string) map[string]any
}

// The custom headers both variants send (an auth proxy's key): their values
// are secrets like the passwords.
const (
	proxyKeyHeader = "X-Proxy-Key"
	tempoHeaderKey = "tempo-hdr-Kr52Qe"
	lokiHeaderKey  = "loki-hdr-Ty83Mz"
)

func authVariants() []authVariant {
	headers := []map[string]any{{"name": proxyKeyHeader}}
	sasl := map[string]any{"mechanism": "PLAIN", "username": kafkaUser}
	return []authVariant{
		{
			name:  "tempo basic auth, loki bearer token, kafka SASL PLAIN",
			tempo: tempoAuth{user: tempoUser, password: tempoPassword},
			loki:  tempoAuth{token: lokiToken},
			secure: map[string]string{"tempoPassword": tempoPassword, "lokiBearerToken": lokiToken,
				"kafkaPassword": kafkaPassword, "tempoHeader1": tempoHeaderKey, "lokiHeader1": lokiHeaderKey},
			jsonData: func(tempoURL, lokiURL string, brokers []string) map[string]any {
				return map[string]any{
					"tempo": map[string]any{"url": tempoURL, "basicAuthUser": tempoUser, "tenant": tenant, "headers": headers},
					"loki":  map[string]any{"url": lokiURL, "tenant": tenant, "headers": headers},
					"kafka": map[string]any{"brokers": brokers, "topics": kafkaTopics(), "sasl": sasl},
				}
			},
		},
		{
			name:  "tempo bearer token, loki basic auth, kafka SASL PLAIN",
			tempo: tempoAuth{token: tempoToken},
			loki:  tempoAuth{user: lokiUser, password: lokiPassword},
			secure: map[string]string{"tempoBearerToken": tempoToken, "lokiPassword": lokiPassword,
				"kafkaPassword": kafkaPassword, "tempoHeader1": tempoHeaderKey, "lokiHeader1": lokiHeaderKey},
			jsonData: func(tempoURL, lokiURL string, brokers []string) map[string]any {
				return map[string]any{
					"tempo": map[string]any{"url": tempoURL, "headers": headers},
					"loki":  map[string]any{"url": lokiURL, "basicAuthUser": lokiUser, "headers": headers},
					"kafka": map[string]any{"brokers": brokers, "topics": kafkaTopics(), "sasl": sasl},
				}
			},
		},
	}
}

// secretForms are the strings that would leak a credential: the secrets
// themselves and the basic-auth header values, which are as good as the
// password.
func secretForms() map[string]string {
	return map[string]string{
		"tempoPassword":          tempoPassword,
		"tempoBearerToken":       tempoToken,
		"lokiPassword":           lokiPassword,
		"lokiBearerToken":        lokiToken,
		"kafkaPassword":          kafkaPassword,
		"tempoHeader1":           tempoHeaderKey,
		"lokiHeader1":            lokiHeaderKey,
		"tempo basic auth value": basic(tempoUser, tempoPassword),
		"loki basic auth value":  basic(lokiUser, lokiPassword),
	}
}

// leaks lists which secret appears in which place.
func leaks(places map[string]string) []string {
	var out []string
	for where, text := range places {
		for name, secret := range secretForms() {
			if strings.Contains(text, secret) {
				out = append(out, fmt.Sprintf("%s appears in %s", name, where))
			}
		}
	}
	return out
}

// saslSeen records the SASL PLAIN exchanges kfake receives.
type saslSeen struct {
	mu    sync.Mutex
	plain [][]byte
}

func watchSASL(c *kfake.Cluster) *saslSeen {
	s := &saslSeen{}
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		s.mu.Lock()
		s.plain = append(s.plain, append([]byte(nil), req.(*kmsg.SASLAuthenticateRequest).SASLAuthBytes...))
		s.mu.Unlock()
		return nil, nil, false
	})
	return s
}

func (s *saslSeen) sawPlain(user, password string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := []byte("\x00" + user + "\x00" + password)
	for _, b := range s.plain {
		if bytes.Equal(b, want) {
			return true
		}
	}
	return false
}

// echoAuth is a hostile upstream: it refuses everything and writes the
// Authorization and custom headers it received into its error body (some
// gateways and debug proxies do), hoping the plugin shows them to dashboard
// viewers.
func echoAuth(t *testing.T, status int) *upstream {
	return newUpstream(t, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "denied; you sent Authorization: "+r.Header.Get("Authorization")+
			" "+proxyKeyHeader+": "+r.Header.Get(proxyKeyHeader), status)
	})
}

// TestSecretsReachUpstreamsAndNeverLeak configures credentials for every
// source and checks (1) basic auth, bearer tokens and SASL PLAIN really
// reach Tempo, Loki and kfake, and (2) no secret appears in any frame,
// notice, error, health message or plugin log line, even when hostile
// upstreams answer 401/500 with the Authorization header echoed back.
func TestSecretsReachUpstreamsAndNeverLeak(t *testing.T) {
	p := harness.Start(t)
	for _, v := range authVariants() {
		t.Run(v.name, func(t *testing.T) {
			c := saslCluster(t)
			seen := watchSASL(c)
			places := map[string]string{}

			// 1. Healthy upstreams that insist on the credentials.
			tempo := newTempo(t, faultNone, v.tempo)
			loki := newLoki(t, faultNone, v.loki)
			ds := settings(v.jsonData(tempo.URL, loki.URL, c.ListenAddrs()), v.secure)
			resp, err := p.QueryData(ctxT(t, 30*time.Second), ds, query("A", map[string]any{}))
			require.NoError(t, err)
			r := resultOf(t, resp, "A")
			require.NoError(t, r.err)
			assert.Equal(t, 8, r.spans, "Tempo accepted the credentials")
			assert.Equal(t, lokiLines, r.logs["loki"], "Loki accepted the credentials")
			assert.Equal(t, 1, r.logs["kafka:otlp_logs"], "kfake accepted the SASL credentials")
			assert.True(t, seen.sawPlain(kafkaUser, kafkaPassword), "SASL PLAIN with the configured user and password reached kfake")
			for _, h := range tempo.authHeaders() {
				assert.NotEmpty(t, h, "every Tempo request carries credentials")
			}
			for _, h := range loki.authHeaders() {
				assert.NotEmpty(t, h, "every Loki request carries credentials")
			}
			places["frames of a healthy query"] = frameText(t, r.frames)
			places["notices of a healthy query"] = strings.Join(r.notices, "\n")
			h, err := p.CheckHealth(ctxT(t, 30*time.Second), ds)
			require.NoError(t, err)
			places["health message (healthy)"] = h.Message + string(h.JSONDetails)
			assert.Equal(t, backend.HealthStatusError, h.Status, "the SASL user may not read audit: %s", h.Message)
			require.Empty(t, leaks(places), "secrets leaked on the healthy path")

			// 2. Hostile upstreams echoing the Authorization header.
			hostile := map[string]string{}
			for _, status := range []int{http.StatusUnauthorized, http.StatusInternalServerError} {
				ht, hl := echoAuth(t, status), echoAuth(t, status)
				hds := settings(v.jsonData(ht.URL, hl.URL, c.ListenAddrs()), v.secure)
				resp, err := p.QueryData(ctxT(t, 30*time.Second), hds,
					query("A", map[string]any{}),
					query("B", map[string]any{"sources": []string{"tempo"}}),
					query("C", map[string]any{"sources": []string{"loki"}}))
				require.NoError(t, err)
				for _, ref := range []string{"A", "B", "C"} {
					r := resultOf(t, resp, ref)
					where := fmt.Sprintf("query %s against a hostile %d upstream", ref, status)
					hostile["frames of "+where] = frameText(t, r.frames)
					hostile["notices of "+where] = strings.Join(r.notices, "\n")
					if r.err != nil {
						hostile["error of "+where] = r.err.Error()
					}
				}
				h, err := p.CheckHealth(ctxT(t, 30*time.Second), hds)
				require.NoError(t, err)
				assert.Equal(t, backend.HealthStatusError, h.Status)
				hostile[fmt.Sprintf("health message against a hostile %d upstream", status)] = h.Message + string(h.JSONDetails)
			}
			hostile["plugin log lines"] = p.Logs()
			assert.Empty(t, dedupe(leaks(hostile)), "secrets echoed by a hostile upstream reached the user")
			// The echo did reach the user, scrubbed: without this the check
			// above would also pass if the error bodies were dropped unread.
			var redacted []string
			for where, text := range hostile {
				if strings.Contains(text, "Authorization: Basic [redacted]") || strings.Contains(text, "Authorization: Bearer [redacted]") {
					redacted = append(redacted, where)
				}
			}
			assert.NotEmpty(t, redacted, "no place shows the hostile upstream's echoed Authorization header, redacted")
			// The custom header reached the hostile upstream (it echoed it)
			// and was scrubbed on the way back.
			var headerRedacted bool
			for _, text := range hostile {
				headerRedacted = headerRedacted || strings.Contains(text, proxyKeyHeader+": [redacted]")
			}
			assert.True(t, headerRedacted, "no place shows the hostile upstream's echoed %s header, redacted", proxyKeyHeader)
		})
	}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

package reliability

import (
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/traceweave/traceweave/internal/harness"
)

// saslHint is the message of a rejected login (kafka.AuthenticationHint),
// spelled out here so a reworded hint is a reviewed change of this test.
const saslHint = "Kafka rejected the SASL login: check kafka.sasl.username, the kafkaPassword secret and kafka.sasl.mechanism"

// TestKafkaSASLRejected logs in with a wrong password by PLAIN and both
// SCRAM mechanisms, through the built binary: asked alone, Kafka's failure
// is a 401 with error source downstream telling the user what to check;
// next to working Tempo and Loki it is a notice saying the same; the health
// check says it too. The password appears nowhere. The right password
// reads the lines, so the failures are the password's.
func TestKafkaSASLRejected(t *testing.T) {
	p := harness.Start(t)
	const user, rightPw, wrongPw = "tw-sasl-user", "right-pw-Qm48Tz", "wrong-pw-Vb93Lk"
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := newKafka(t, true, kfake.EnableSASL(), kfake.Superuser("PLAIN", kafkaAdmin, kafkaAdminPw), kfake.Superuser(mech, user, rightPw))
			sasl := map[string]any{"sasl": map[string]any{"mechanism": mech, "username": user}}
			secret := func(pw string) map[string]string { return map[string]string{"kafkaPassword": pw} }
			noPassword := func(t *testing.T, text string) {
				t.Helper()
				assert.NotContains(t, text, wrongPw)
				assert.NotContains(t, text, rightPw)
			}

			t.Run("right password", func(t *testing.T) {
				s, sources := kafkaSettings(t, true, c.ListenAddrs(), sasl, secret(rightPw))
				resp, err := p.QueryData(ctxT(t, caseTimeout), s, query("A", map[string]any{"sources": sources}))
				require.NoError(t, err)
				r := resultOf(t, resp, "A")
				require.NoError(t, r.err)
				assert.Equal(t, 1, r.logs["kafka:audit"])
			})
			t.Run("alone: 401", func(t *testing.T) {
				s, sources := kafkaSettings(t, true, c.ListenAddrs(), sasl, secret(wrongPw))
				resp, err := p.QueryData(ctxT(t, caseTimeout), s, query("A", map[string]any{"sources": sources}))
				require.NoError(t, err)
				dr := resp.Responses["A"]
				require.Error(t, dr.Error)
				assert.Equal(t, backend.StatusUnauthorized, dr.Status)
				assert.Equal(t, backend.ErrorSourceDownstream, dr.ErrorSource)
				assert.Contains(t, dr.Error.Error(), saslHint)
				assert.Contains(t, dr.Error.Error(), `kafka topic "audit"`)
				noPassword(t, dr.Error.Error())
			})
			t.Run("with Tempo and Loki: a notice", func(t *testing.T) {
				s, _ := kafkaSettings(t, false, c.ListenAddrs(), sasl, secret(wrongPw))
				resp, err := p.QueryData(ctxT(t, caseTimeout), s, query("A", map[string]any{}))
				require.NoError(t, err)
				r := resultOf(t, resp, "A")
				require.NoError(t, r.err)
				assert.Positive(t, r.spans)
				notices := strings.Join(r.notices, "\n")
				assert.Contains(t, notices, `Kafka topic "otlp_logs" failed: kafka topic "otlp_logs": `+saslHint)
				assert.Contains(t, notices, `Kafka topic "audit" failed: kafka topic "audit": `+saslHint)
				noPassword(t, notices)
			})
			t.Run("health check", func(t *testing.T) {
				s, _ := kafkaSettings(t, false, c.ListenAddrs(), sasl, secret(wrongPw))
				h, err := p.CheckHealth(ctxT(t, caseTimeout), s)
				require.NoError(t, err)
				assert.Equal(t, backend.HealthStatusError, h.Status)
				assert.Contains(t, h.Message, "Kafka: ")
				assert.Contains(t, h.Message, saslHint)
				noPassword(t, h.Message+string(h.JSONDetails))
			})
			noPassword(t, p.Logs())
		})
	}
}

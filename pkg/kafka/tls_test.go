package kafka

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/internal/upstreamtest"
	"github.com/traceweave/traceweave/pkg/models"
)

func TestReadTLS(t *testing.T) {
	ca := upstreamtest.NewPKI(t)
	c := newCluster(t, kfake.TLS(ca.ServerTLS()),
		kfake.SeedTopics(1, "a"))
	for _, addr := range c.ListenAddrs() {
		require.Contains(t, addr, "127.0.0.1:", "the broker certificate is for 127.0.0.1")
	}
	p := newProducer(t, c, kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Roots(), MinVersion: tls.VersionTLS12}))
	produce(t, p, &kgo.Record{Topic: "a", Value: []byte("INFO tls trace_id=" + testTrace), Timestamp: testBase},
		&kgo.Record{Topic: "a", Value: []byte("INFO tls trace_id=" + otherTrace), Timestamp: testBase})
	topics := []models.KafkaTopic{{Name: "a", Encoding: models.EncodingText}}
	win := Window{Start: testBase.Add(-time.Minute), End: testBase.Add(time.Minute)}
	settings := func(tlsCfg models.KafkaTLS) models.KafkaSettings {
		return models.KafkaSettings{Brokers: c.ListenAddrs(), Topics: topics, TLS: tlsCfg}
	}

	t.Run("custom CA", func(t *testing.T) {
		r := newReaderFromSettings(t, settings(models.KafkaTLS{Enabled: true, CACert: ca.CAPEM}))
		h, err := r.CheckHealth(testCtx(t, 20*time.Second))
		require.NoError(t, err)
		assert.Len(t, h.Brokers, 1)
		res := r.Read(testCtx(t, 20*time.Second), testTrace, win)
		require.NoError(t, res.Err())
		require.Len(t, res.Topics[0].Records, 1)
		assert.Contains(t, res.Topics[0].Records[0].Body, testTrace)
	})
	t.Run("insecureSkipVerify", func(t *testing.T) {
		r := newReaderFromSettings(t, settings(models.KafkaTLS{Enabled: true, InsecureSkipVerify: true}))
		res := r.Read(testCtx(t, 20*time.Second), testTrace, win)
		require.NoError(t, res.Err())
		assert.Len(t, res.Topics[0].Records, 1)
	})
	t.Run("CA not configured", func(t *testing.T) {
		r := newReaderFromSettings(t, settings(models.KafkaTLS{Enabled: true}))
		_, err := r.CheckHealth(testCtx(t, 20*time.Second))
		require.ErrorIs(t, err, ErrUnreachable)
		require.ErrorIs(t, err, upstream.ErrUnreachable)
		assertUntrustedTLS(t, err)
		res := r.Read(testCtx(t, 20*time.Second), testTrace, win)
		require.ErrorIs(t, res.Topics[0].Err, ErrUnreachable)
		assertUntrustedTLS(t, res.Topics[0].Err)
		assert.Empty(t, res.Topics[0].Records)
	})
	t.Run("another CA", func(t *testing.T) {
		other := upstreamtest.NewPKI(t)
		r := newReaderFromSettings(t, settings(models.KafkaTLS{Enabled: true, CACert: other.CAPEM}))
		_, err := r.CheckHealth(testCtx(t, 20*time.Second))
		require.ErrorIs(t, err, ErrUnreachable)
		assertUntrustedTLS(t, err)
	})
}

// assertUntrustedTLS checks that err says it is TLS, what is wrong with the
// certificate and which setting fixes it.
func assertUntrustedTLS(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	assert.Contains(t, msg, "TLS")
	assert.Contains(t, msg, "certificate signed by unknown authority")
	assert.Contains(t, msg, "kafkaTLSCACert")
}

func TestNewRejectsBadCACert(t *testing.T) {
	_, err := New(models.KafkaSettings{Brokers: []string{"k:9092"}, TLS: models.KafkaTLS{Enabled: true, CACert: "not a certificate"}})
	require.ErrorIs(t, err, models.ErrInvalidSettings)
	assert.Contains(t, err.Error(), "kafkaTLSCACert")
}

package kafka

import (
	"context"
	"encoding/hex"
	"hash/fnv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/traceweave/traceweave/pkg/models"
)

// testTrace is the trace of the recorded fixtures (docs/DESIGN.md, "Upstream facts").
const testTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

// otherTrace is another trace whose records must never be returned.
const otherTrace = "0af7651916cd43dd8448eb211c80319c"

// testBase is the time the test traces happen at.
var testBase = time.Date(2026, 11, 14, 10, 0, 0, 0, time.UTC)

// fnv32a is hash/fnv's FNV-1a, the hash kafkaexporter hands to
// kgo.SaramaCompatHasher; the tests use the standard library's, not ours.
func fnv32a(b []byte) uint32 {
	h := fnv.New32a()
	_, _ = h.Write(b)
	return h.Sum32()
}

func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// newProducer produces the way kafkaexporter does: franz-go with the
// sarama-compatible FNV-1a key partitioner. Small batches make the
// timestamp seek meaningful, as a busy exporter's batches are.
func newProducer(t testing.TB, c *kfake.Cluster, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a))),
		kgo.ProducerBatchMaxBytes(16 << 10),
		kgo.MaxBufferedRecords(1 << 20),
	}, extra...)
	cl, err := kgo.NewClient(opts...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func produce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

func newTestReader(t testing.TB, c *kfake.Cluster, topics []models.KafkaTopic, opts ...Option) *Reader {
	t.Helper()
	cfg := models.KafkaSettings{Brokers: c.ListenAddrs(), Topics: topics}
	return newReaderFromSettings(t, cfg, opts...)
}

func newReaderFromSettings(t testing.TB, cfg models.KafkaSettings, opts ...Option) *Reader {
	t.Helper()
	for i := range cfg.Topics {
		if cfg.Topics[i].Hasher == "" {
			cfg.Topics[i].Hasher = models.HasherSaramaCompat
		}
	}
	r, err := New(cfg, append([]Option{withRetries(3, 20*time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

// logSpec describes one OTLP log record.
type logSpec struct {
	trace, span string
	body        any // string, map[string]any or []byte
	sevText     string
	sevNum      plog.SeverityNumber
	at          time.Time
	attrs       map[string]any
}

// otlpLogs builds one ResourceLogs of service with the records.
func otlpLogs(service string, specs ...logSpec) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	rl.Resource().Attributes().PutStr("deployment.environment", "test")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("traceweave-test")
	for _, s := range specs {
		lr := sl.LogRecords().AppendEmpty()
		if s.trace != "" {
			var tid pcommon.TraceID
			mustHex(tid[:], s.trace)
			lr.SetTraceID(tid)
		}
		if s.span != "" {
			var sid pcommon.SpanID
			mustHex(sid[:], s.span)
			lr.SetSpanID(sid)
		}
		switch b := s.body.(type) {
		case string:
			lr.Body().SetStr(b)
		case []byte:
			lr.Body().SetEmptyBytes().FromRaw(b)
		case map[string]any:
			_ = lr.Body().SetEmptyMap().FromRaw(b)
		}
		lr.SetSeverityText(s.sevText)
		lr.SetSeverityNumber(s.sevNum)
		if !s.at.IsZero() {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(s.at))
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(s.at.Add(time.Millisecond)))
		}
		if s.attrs != nil {
			_ = lr.Attributes().FromRaw(s.attrs)
		}
	}
	return ld
}

func mustHex(dst []byte, s string) {
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		panic(err)
	}
}

func protoBytes(t testing.TB, ld plog.Logs) []byte {
	t.Helper()
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return b
}

func jsonBytes(t testing.TB, ld plog.Logs) []byte {
	t.Helper()
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return b
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func plainMechanism(user, pass string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: pass}.AsMechanism()
}

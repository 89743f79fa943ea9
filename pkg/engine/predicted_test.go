package engine

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/traceweave/traceweave/pkg/tempo"
)

// unreadableSpanBody is a v2 answer whose one span has readable timestamps
// (the test trace's root, [traceStart, traceStart+1s]) but a name sent as a
// varint: the extent scan, which skips names, predicts the window, and the
// decoder rejects the answer. It is the one way to make the prediction
// wrong, so it exercises the restart of the log queries.
func unreadableSpanBody(t *testing.T) []byte {
	t.Helper()
	tid, err := hex.DecodeString(testTraceID)
	require.NoError(t, err)
	var span []byte
	span = protowire.AppendTag(span, 1, protowire.BytesType)
	span = protowire.AppendBytes(span, tid)
	span = protowire.AppendTag(span, 2, protowire.BytesType)
	span = protowire.AppendBytes(span, []byte{0, 0, 0, 0, 0, 0, 0, 1})
	span = protowire.AppendTag(span, 5, protowire.VarintType) // name: must be bytes
	span = protowire.AppendVarint(span, 1)
	span = protowire.AppendTag(span, 7, protowire.Fixed64Type)
	span = protowire.AppendFixed64(span, uint64(at(0).UnixNano()))
	span = protowire.AppendTag(span, 8, protowire.Fixed64Type)
	span = protowire.AppendFixed64(span, uint64(at(time.Second).UnixNano()))
	wrap := func(field protowire.Number, inner []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, field, protowire.BytesType), inner)
	}
	traces := wrap(1, wrap(2, wrap(2, span))) // TracesData → ResourceSpans → ScopeSpans → Span
	return wrap(1, traces)                    // TraceByIDResponse.trace
}

func TestUnreadableSpanBodyIsPredictedButNotDecoded(t *testing.T) {
	body := unreadableSpanBody(t)
	x, ok := tempo.ScanExtent(tempo.APIv2, "application/protobuf", body)
	require.True(t, ok)
	assert.Equal(t, tempo.Extent{StartNs: at(0).UnixNano(), EndNs: at(time.Second).UnixNano(), Spans: 1}, x)
	_, err := tempo.Decode(tempo.APIv2, "application/protobuf", body)
	require.ErrorIs(t, err, tempo.ErrDecode)
}

// A wrong prediction costs time, never the result: the log queries started
// on the predicted window are stopped and Loki is asked again over the
// window the decoded answer gives (here, Tempo having failed, the query's
// range), and the outcome is the one of a Tempo that failed outright.
func TestWrongPredictionRestartsTheLogQueries(t *testing.T) {
	body := unreadableSpanBody(t)
	tp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(body)
	}))
	t.Cleanup(tp.Close)
	lk := newFakeLoki(t)
	out := runQuery(t, newTestEngine(t, tp.URL, lk.URL, 0), longFrom, longTo)

	reqs := lk.requests()
	require.Contains(t, reqs, lokiRange{longFrom, longTo})
	for _, r := range reqs {
		assert.Contains(t, []lokiRange{{longFrom, longTo}, {windowFrom, windowTo}}, r)
	}
	t.Logf("Loki requests: %v", reqs)

	failing := newFakeLoki(t)
	want := viewOf(runQuery(t, newTestEngine(t, newFakeTempo(t, http.StatusInternalServerError).URL, failing.URL, 0), longFrom, longTo))
	got := viewOf(out)
	assert.Equal(t, want.Lines, got.Lines)
	assert.Equal(t, []lokiRange{{longFrom, longTo}}, failing.requests())
	require.Len(t, got.Notices, 1)
	assert.Contains(t, got.Notices[0].Text, "Tempo failed, logs were searched over the query's time range")
	assert.Contains(t, got.Notices[0].Text, "protobuf")
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/frames"
	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/loki"
	"github.com/traceweave/traceweave/pkg/plugin"
	"github.com/traceweave/traceweave/pkg/tempo"
)

// TestMain closes the shared world (servers, kfake cluster) after the run.
func TestMain(m *testing.M) {
	// The SDK logs every query at debug level; keep the benchmark output readable.
	log.DefaultLogger = log.NewWithLevel(log.Warn)
	code := m.Run()
	closeWorld()
	os.Exit(code)
}

// benchCtx bounds one benchmark operation.
func benchCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// newDatasource creates the plugin instance the way Grafana's instance
// manager does, from the provisioned jsonData.
func newDatasource(tb testing.TB, w *world) *plugin.Datasource {
	tb.Helper()
	return newDatasourceWith(tb, w.settingsJSON())
}

// newDatasourceWith is newDatasource on the given jsonData.
func newDatasourceWith(tb testing.TB, jsonData []byte) *plugin.Datasource {
	tb.Helper()
	inst, err := plugin.NewDatasource(context.Background(), backend.DataSourceInstanceSettings{
		UID: "traceweave-bench", Name: "Traceweave", JSONData: jsonData,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ds := inst.(*plugin.Datasource)
	tb.Cleanup(ds.Dispose)
	return ds
}

// queryModel is the panel target of a timeline query for the trace.
func queryModel(tc *traceCase) map[string]any {
	return map[string]any{"refId": "A", "queryType": "timeline", "traceId": tc.traceID}
}

// queryRequest is the QueryData request Grafana sends for the trace, with a
// one-hour dashboard time range (the archive hour).
func queryRequest(tc *traceCase) *backend.QueryDataRequest {
	raw, _ := json.Marshal(queryModel(tc))
	return &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{OrgID: 1, PluginID: plugin.PluginID},
		Queries: []backend.DataQuery{{
			RefID: "A", QueryType: "timeline", JSON: raw,
			TimeRange: backend.TimeRange{From: archiveStart, To: archiveStart.Add(archiveSpan)},
		}},
	}
}

// checkResponse fails unless the answer holds every span and every distinct
// log line of the trace, without notices of failure.
func checkResponse(tb testing.TB, resp *backend.QueryDataResponse, tc *traceCase) {
	tb.Helper()
	r, ok := resp.Responses["A"]
	if !ok || r.Error != nil {
		tb.Fatalf("%s: response error %v", tc.name, r.Error)
	}
	checkFrames(tb, r.Frames, tc)
}

func checkFrames(tb testing.TB, fs data.Frames, tc *traceCase) {
	tb.Helper()
	rows := map[string]int{}
	for _, f := range fs {
		rows[f.Name] = rowsOf(f)
	}
	if rows[frames.NameTrace] != tc.spans || rows[frames.NameLogs] != tc.logs || rows[frames.NameTimeline] != tc.spans+tc.logs {
		tb.Fatalf("%s: frame rows %v, want trace %d, logs %d, timeline %d", tc.name, rows, tc.spans, tc.logs, tc.spans+tc.logs)
	}
}

func rowsOf(f *data.Frame) int {
	n, err := f.RowLen()
	if err != nil {
		return -1
	}
	return n
}

// solo holds one client per upstream, built from the same settings as the
// plugin, to time each source alone.
type solo struct {
	tempo *tempo.Client
	loki  *loki.Client
	kafka *kafka.Reader
}

func newSolo(tb testing.TB, w *world) *solo {
	tb.Helper()
	cfg := w.settings(tb)
	s := &solo{}
	var err error
	if s.tempo, err = tempo.New(cfg.Tempo); err != nil {
		tb.Fatal(err)
	}
	if s.loki, err = loki.New(cfg.Loki); err != nil {
		tb.Fatal(err)
	}
	if s.kafka, err = kafka.New(cfg.Kafka); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.tempo.Close(); s.loki.Close(); s.kafka.Close() })
	return s
}

// soloTimes are the sources' times alone, one after the other.
type soloTimes struct{ tempo, loki, kafka time.Duration }

// ideal is the lower bound of a query: Tempo, then the slower of Loki and
// Kafka over the window Tempo gave.
func (t soloTimes) ideal() time.Duration { return t.tempo + max(t.loki, t.kafka) }

// ratioTally sums, over a benchmark's iterations, the query's wall time and
// the sources' solo times, for ratio = Σ wall / Σ (T_tempo + max(T_loki, T_kafka)).
type ratioTally struct {
	wall, ideal time.Duration
	sum         soloTimes
}

// add records one iteration: the query took wall, the sources alone t.
func (r *ratioTally) add(wall time.Duration, t soloTimes) {
	r.wall += wall
	r.ideal += t.ideal()
	r.sum.tempo += t.tempo
	r.sum.loki += t.loki
	r.sum.kafka += t.kafka
}

// report adds the ratio and the per-iteration solo times to the benchmark's metrics.
func (r *ratioTally) report(b *testing.B) {
	nf := float64(b.N)
	b.ReportMetric(float64(r.wall)/float64(r.ideal), "ratio")
	b.ReportMetric(r.sum.tempo.Seconds()*1e3/nf, "tempo-ms")
	b.ReportMetric(r.sum.loki.Seconds()*1e3/nf, "loki-ms")
	b.ReportMetric(r.sum.kafka.Seconds()*1e3/nf, "kafka-ms")
}

// run times each source alone over the trace's window and checks it found
// the trace's spans and lines.
func (s *solo) run(tb testing.TB, ctx context.Context, tc *traceCase) (soloTimes, *kafka.Result) {
	tb.Helper()
	var t soloTimes
	lo, hi := tc.window()
	t0 := time.Now()
	tr, err := s.tempo.TraceByID(ctx, tc.traceID, nil)
	t.tempo = time.Since(t0)
	if err != nil || len(tr.Trace.Spans) != tc.spans {
		tb.Fatalf("%s: tempo alone: %v", tc.name, err)
	}
	t0 = time.Now()
	lr, err := s.loki.Query(ctx, tc.traceID, lo.UnixNano(), hi.UnixNano())
	t.loki = time.Since(t0)
	if err != nil || len(lr.Records) != tc.lokiLogs {
		tb.Fatalf("%s: loki alone: %v", tc.name, err)
	}
	t0 = time.Now()
	kr := s.kafka.Read(ctx, tc.traceID, kafkaWindow(tc))
	t.kafka = time.Since(t0)
	if n := kafkaRecords(kr); kr.Err() != nil || n != tc.kafkaTotal() {
		tb.Fatalf("%s: kafka alone: %v, %d records, want %d", tc.name, kr.Err(), n, tc.kafkaTotal())
	}
	return t, kr
}

// kafkaRecords counts the records of every topic without copying them
// (Result.Records would, and show up in the profiles).
func kafkaRecords(r *kafka.Result) int {
	n := 0
	for _, t := range r.Topics {
		n += len(t.Records)
	}
	return n
}

// heapInuse is HeapInuse read through runtime/metrics, which (unlike
// runtime.ReadMemStats) does not stop the world, so sampling it does not
// distort the measured query.
func heapInuse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// heapSampler records the peak HeapInuse every millisecond until stopped.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), peak: heapInuse()}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.peak = max(h.peak, heapInuse())
			}
		}
	}()
	return h
}

func (h *heapSampler) finish() uint64 {
	close(h.stop)
	h.done.Wait()
	return max(h.peak, heapInuse())
}

// settledHeap is HeapInuse after a full collection.
func settledHeap() uint64 {
	runtime.GC()
	return heapInuse()
}

// childRSS returns the peak and current resident set (VmHWM, VmRSS) in
// bytes of the child process running the plugin binary at path.
func childRSS(path string) (peak, cur int64, err error) {
	pid, err := childPID(path)
	if err != nil {
		return 0, 0, err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmHWM" {
			peak = kb << 10
		} else {
			cur = kb << 10
		}
	}
	return peak, cur, nil
}

// childPID finds this process's child running the binary (the harness
// keeps the go-plugin client, and with it the pid, to itself).
func childPID(path string) (int, error) {
	want, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, err
	}
	self := strconv.Itoa(os.Getpid())
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil || !strings.Contains(string(st), "\nPPid:\t"+self+"\n") {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == want {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child process runs %s", want)
}

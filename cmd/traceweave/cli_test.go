package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// cliBinary is built once by TestMain: the tests run the real command.
var cliBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "traceweave-cli-")
	if err != nil {
		panic(err)
	}
	cliBinary = filepath.Join(dir, "traceweave")
	build := exec.Command("go", "build", "-o", cliBinary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func fixture(t *testing.T, rel string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	require.NoError(t, err)
	return b
}

// fakeTempo serves the recorded v2 protobuf trace for traceID, Tempo's
// real not-found answer for any other ID, and the recorded search answer.
func fakeTempo(t *testing.T) *httptest.Server {
	pb := fixture(t, "pkg/tempo/testdata/tempo_trace_v2.pb")
	notFound := fixture(t, "pkg/tempo/testdata/tempo_trace_v2_notfound.txt")
	search := fixture(t, "pkg/tempo/testdata/tempo_search_traceql.json")
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/echo":
			_, _ = w.Write([]byte("echo"))
		case r.URL.Path == "/api/search":
			// The recorded answer finds traceID.
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(search)
		case r.URL.Path == "/api/v2/traces/"+traceID:
			w.Header().Set("Content-Type", "application/protobuf")
			_, _ = w.Write(pb)
		case strings.HasPrefix(r.URL.Path, "/api/v2/traces/"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(notFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// fakeLoki answers query_range with the recorded responses (structured
// metadata filter and line filter) when the query names traceID, and with an
// empty result otherwise.
func fakeLoki(t *testing.T) *httptest.Server {
	sm := fixture(t, "pkg/loki/testdata/loki_query_range_sm_filter_categorized.json")
	line := fixture(t, "pkg/loki/testdata/loki_query_range_linefilter_categorized.json")
	empty := []byte(`{"status":"success","data":{"resultType":"streams","encodingFlags":["categorize-labels"],"result":[]}}`)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			_, _ = w.Write([]byte("ready\n"))
		case "/loki/api/v1/labels":
			_, _ = w.Write([]byte(`{"status":"success","data":["service_name"]}`))
		case "/loki/api/v1/query_range":
			q := r.URL.Query().Get("query")
			w.Header().Set("Content-Type", "application/json")
			switch {
			case !strings.Contains(q, traceID):
				_, _ = w.Write(empty)
			case strings.Contains(q, "trace_id="):
				_, _ = w.Write(sm)
			default:
				_, _ = w.Write(line)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// fakeKafka holds an audit topic with one JSON line of the trace (at the
// trace's time) and one of another trace.
func fakeKafka(t *testing.T) string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "audit"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	at := time.Unix(0, 1795710089360000000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx,
		&kgo.Record{Topic: "audit", Timestamp: at, Value: []byte(fmt.Sprintf(
			`{"time":"%s","level":"info","trace_id":"%s","user":"u-42","action":"orders.list","message":"audit: u-42 listed orders"}`,
			at.UTC().Format(time.RFC3339Nano), traceID))},
		&kgo.Record{Topic: "audit", Timestamp: at, Value: []byte(`{"level":"info","trace_id":"0123456789abcdef0123456789abcdef","message":"audit: someone else"}`)},
	).FirstErr())
	return c.ListenAddrs()[0]
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env []string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBinary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "COLUMNS=110"}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code, out.String(), errOut.String()}
}

// closedURL is an HTTP URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return "http://" + l.Addr().String()
}

func allSourcesEnv(t *testing.T) []string {
	return []string{
		"TRACEWEAVE_TEMPO_URL=" + fakeTempo(t).URL,
		"TRACEWEAVE_LOKI_URL=" + fakeLoki(t).URL,
		"TRACEWEAVE_KAFKA_BROKERS=" + fakeKafka(t),
		"TRACEWEAVE_KAFKA_TOPICS=audit:json",
	}
}

func TestTimelineGoldenText(t *testing.T) {
	r := runCLI(t, allSourcesEnv(t), "timeline", traceID)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.NotContains(t, r.stdout, "\033[", "no colour when stdout is not a terminal")
	golden := filepath.Join("testdata", "timeline.golden.txt")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(r.stdout), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run with -update to create it")
	require.Equal(t, string(want), r.stdout)
	// Every line fits the terminal width.
	for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		require.LessOrEqual(t, len([]rune(line)), 110, line)
	}
}

func TestTimelineJSON(t *testing.T) {
	r := runCLI(t, allSourcesEnv(t), "timeline", "--json", strings.ToUpper(traceID))
	require.Equal(t, exitOK, r.code, r.stderr)
	var doc struct {
		Timeline struct {
			TraceID string `json:"traceId"`
			Spans   []struct {
				SpanID string `json:"spanId"`
				Tier   string `json:"tier"`
			} `json:"spans"`
			Logs []struct {
				Body    string   `json:"body"`
				Sources []string `json:"sources"`
			} `json:"logs"`
			Summary struct {
				Tiers []struct {
					Tier string `json:"tier"`
				} `json:"tiers"`
			} `json:"summary"`
		} `json:"timeline"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	require.Equal(t, traceID, doc.Timeline.TraceID)
	require.Len(t, doc.Timeline.Spans, 8)
	// 9 Loki lines (structured metadata) ∪ 7 (line filter) dedup to 9, plus one audit line.
	require.Len(t, doc.Timeline.Logs, 10)
	var audit int
	for _, l := range doc.Timeline.Logs {
		if strings.Contains(l.Body, "audit: u-42") {
			audit++
			require.Equal(t, []string{"kafka:audit"}, l.Sources)
		}
		require.NotContains(t, l.Body, "someone else")
	}
	require.Equal(t, 1, audit)
	require.NotEmpty(t, doc.Timeline.Summary.Tiers)
}

func TestTimelineSpanFlag(t *testing.T) {
	r := runCLI(t, allSourcesEnv(t), "timeline", "--json", "--span", "00f067aa0ba90207", traceID)
	require.Equal(t, exitOK, r.code, r.stderr)
	var doc struct {
		Timeline struct {
			Logs []struct {
				AttachedSpanID string `json:"attachedSpanId"`
			} `json:"logs"`
		} `json:"timeline"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	require.NotEmpty(t, doc.Timeline.Logs)
	for _, l := range doc.Timeline.Logs {
		require.Equal(t, "00f067aa0ba90207", l.AttachedSpanID)
	}
}

func TestExitCodes(t *testing.T) {
	env := allSourcesEnv(t)
	t.Run("bad trace ID is 2", func(t *testing.T) {
		r := runCLI(t, env, "timeline", "xyz")
		require.Equal(t, exitBadInput, r.code)
		require.Contains(t, r.stderr, "invalid trace ID")
		require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one clear line: %q", r.stderr)
	})
	t.Run("unknown command is 2", func(t *testing.T) {
		require.Equal(t, exitBadInput, runCLI(t, env, "frobnicate").code)
	})
	t.Run("bad settings are 2", func(t *testing.T) {
		r := runCLI(t, []string{"TRACEWEAVE_TEMPO_URL=tempo:3200"}, "timeline", traceID)
		require.Equal(t, exitBadInput, r.code)
		require.Contains(t, r.stderr, "tempo.url")
	})
	t.Run("trace not found is 3", func(t *testing.T) {
		r := runCLI(t, env, "timeline", "0123456789abcdef0123456789abcdee")
		require.Equal(t, exitNotFound, r.code, r.stderr)
		require.Contains(t, r.stderr, "not found in Tempo")
	})
	t.Run("upstream failure is 1", func(t *testing.T) {
		closed := closedURL(t)
		r := runCLI(t, []string{"TRACEWEAVE_TEMPO_URL=" + closed, "TRACEWEAVE_LOKI_URL=" + closed}, "timeline", traceID)
		require.Equal(t, exitUpstream, r.code, r.stderr)
		require.Contains(t, r.stderr, "every source failed")
	})
	t.Run("check healthy is 0", func(t *testing.T) {
		r := runCLI(t, env, "check")
		require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
		require.Contains(t, r.stdout, "Tempo: OK")
		require.Contains(t, r.stdout, "Loki: OK")
		require.Contains(t, r.stdout, "Kafka: OK")
	})
	t.Run("check with a missing topic is 1", func(t *testing.T) {
		bad := append(append([]string{}, env...), "TRACEWEAVE_KAFKA_TOPICS=audit:json,no_such_topic:json")
		r := runCLI(t, bad, "check")
		require.Equal(t, exitUpstream, r.code)
		require.Contains(t, r.stdout, "no_such_topic")
	})
}

func TestProvisioningFileAndSecrets(t *testing.T) {
	var sawAuth string
	tempo := fakeTempo(t)
	guarded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = r.Header.Get("Authorization")
		tempo.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(guarded.Close)
	dir := t.TempDir()
	file := filepath.Join(dir, "ds.yaml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`apiVersion: 1
datasources:
  - name: Tempo
    type: tempo
    url: http://ignored
  - name: Traceweave
    type: traceweave-timeline-datasource
    uid: traceweave
    jsonData:
      tempo: { url: %q, basicAuthUser: alice }
    secureJsonData:
      tempoPassword: $TEMPO_SECRET
`, guarded.URL)), 0o600))
	r := runCLI(t, []string{"TEMPO_SECRET=pa55word"}, "timeline", "--datasource", file, "--name", "Traceweave", "--sources", "tempo", traceID)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Equal(t, "Basic YWxpY2U6cGE1NXdvcmQ=", sawAuth, "alice:pa55word from the expanded secret")
	require.NotContains(t, r.stdout+r.stderr, "pa55word")

	r = runCLI(t, nil, "timeline", "--datasource", file, "--name", "Nope", traceID)
	require.Equal(t, exitBadInput, r.code)
	require.Contains(t, r.stderr, "Traceweave")
}

// searchSince reaches back to the recorded trace (November 2026).
const searchSince = "--since=87600h"

func TestSearchTable(t *testing.T) {
	r := runCLI(t, allSourcesEnv(t), "search", `{ resource.service.name = "go-proxy" }`, searchSince)
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 2, r.stdout)
	head := strings.Fields(lines[0])
	require.Equal(t, []string{"traceId", "rootService", "rootOperation", "start", "duration", "(ms)"}, head[:6])
	require.Contains(t, lines[0], "loki")
	require.Contains(t, lines[0], "kafka:audit")
	row := strings.Fields(lines[1])
	require.Equal(t, []string{traceID, "go-proxy", "GET", "/api/orders"}, row[:4], lines[1])
	require.Empty(t, r.stderr, "stderr carries only notices, and there are none")
}

func TestSearchJSON(t *testing.T) {
	r := runCLI(t, allSourcesEnv(t), "search", "--json", `{ resource.service.name = "go-proxy" }`, searchSince)
	require.Equal(t, exitOK, r.code, r.stderr)
	var doc struct {
		Traces []map[string]any `json:"traces"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	require.Len(t, doc.Traces, 1)
	row := doc.Traces[0]
	require.Equal(t, traceID, row["traceId"])
	require.Equal(t, 120.0, row["duration"])
	require.Positive(t, row["spans"])
	require.Positive(t, row["loki"], "the recorded Loki lines of the trace")
	require.Equal(t, 1.0, row["kafka:audit"], "the one audit line of the trace, not the other trace's")
}

func TestSearchBadInput(t *testing.T) {
	r := runCLI(t, allSourcesEnv(t), "search")
	require.Equal(t, exitBadInput, r.code)
	require.Contains(t, r.stderr, "exactly one TraceQL query")
	r = runCLI(t, allSourcesEnv(t), "search", "{}", "--limit=1000")
	require.Equal(t, exitBadInput, r.code)
	require.Contains(t, r.stderr, "limit 1000")
}

package reliability

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/traceweave/traceweave/internal/harness"
	"github.com/traceweave/traceweave/internal/kafkatest"
	"github.com/traceweave/traceweave/internal/upstreamtest"
)

var update = flag.Bool("update", false, "rewrite docs/FAULTS.md from the outcomes observed in TestFaultMatrix")

// faultsDoc is the committed matrix, relative to this package.
var faultsDoc = filepath.Join("..", "..", "docs", "FAULTS.md")

// caseTimeout bounds one query: a fault that made the plugin hang would fail
// the test here instead of blocking CI.
const caseTimeout = 45 * time.Second

// faultCase is one row of the matrix: a source, a way it fails, and what a
// user must be told (the source, and the reason in plain words).
type faultCase struct {
	source string
	// sourceRE must match the message that names the failing source.
	sourceRE *regexp.Regexp
	fault    string
	reasonRE *regexp.Regexp
	// setup starts the upstreams with the fault. alone: only the failing
	// source is asked (only the failing topic configured, for Kafka).
	setup func(t *testing.T, alone bool) (harness.Settings, []string)
	// deadline bounds each query (default caseTimeout); a short one plays
	// Grafana's query timeout.
	deadline time.Duration
}

var (
	tempoRE = regexp.MustCompile(`(?i)tempo`)
	lokiRE  = regexp.MustCompile(`(?i)loki`)
	auditRE = regexp.MustCompile(`(?i)kafka topic "audit"`)
	kafkaRE = regexp.MustCompile(`(?i)kafka topic "(audit|otlp_logs)"`)
)

// reasons: the words a user needs to understand each fault.
var httpReasons = map[httpFault]*regexp.Regexp{
	faultRefused:   regexp.MustCompile(`connection refused`),
	fault500:       regexp.MustCompile(`500 Internal Server Error`),
	fault500Binary: regexp.MustCompile(`500 Internal Server Error`),
	fault429:       regexp.MustCompile(`429 Too Many Requests|rate limited`),
	// The user must learn it was the configured timeout (500ms), not an outage.
	faultSlow:        regexp.MustCompile(`(?i)(did not answer|timed out|timeout).*500ms|500ms.*(timed out|timeout)`),
	faultCut:         regexp.MustCompile(`(?i)unexpected EOF|connection reset|closed`),
	faultGarbage:     regexp.MustCompile(`(?i)cannot decode|decode|invalid|unexpected|parse`),
	faultContentType: regexp.MustCompile(`(?i)content.type|text/html`),
}

var httpFaults = []httpFault{faultRefused, fault500, fault500Binary, fault429, faultSlow, faultCut, faultGarbage, faultContentType}

// healthy returns the JSON settings of the sources that do not fail.
func healthySettings(t *testing.T, tempoFault, lokiFault httpFault) map[string]any {
	tempoURL := "http://" + upstreamtest.ClosedAddr(t)
	if tempoFault != faultRefused {
		tempoURL = newTempo(t, tempoFault, tempoAuth{}).URL
	}
	lokiURL := "http://" + upstreamtest.ClosedAddr(t)
	if lokiFault != faultRefused {
		lokiURL = newLoki(t, lokiFault, tempoAuth{}).URL
	}
	return map[string]any{
		"tempo": map[string]any{"url": tempoURL, "timeout": "500ms"},
		"loki":  map[string]any{"url": lokiURL, "timeout": "500ms"},
	}
}

func httpCases() []faultCase {
	var out []faultCase
	for _, f := range httpFaults {
		out = append(out, faultCase{
			source: "Tempo", sourceRE: tempoRE, fault: string(f), reasonRE: httpReasons[f],
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				js := healthySettings(t, f, faultNone)
				js["kafka"] = map[string]any{"brokers": newKafka(t, false).ListenAddrs(), "topics": kafkaTopics()}
				return settings(js, nil), sourcesIf(alone, "tempo")
			},
		}, faultCase{
			source: "Loki", sourceRE: lokiRE, fault: string(f), reasonRE: httpReasons[f],
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				js := healthySettings(t, faultNone, f)
				js["kafka"] = map[string]any{"brokers": newKafka(t, false).ListenAddrs(), "topics": kafkaTopics()}
				return settings(js, nil), sourcesIf(alone, "loki")
			},
		})
	}
	return out
}

func sourcesIf(alone bool, s string) []string {
	if alone {
		return []string{s}
	}
	return nil
}

// kafkaSettings puts brokers and topics (both, or only audit when alone)
// next to healthy Tempo and Loki.
func kafkaSettings(t *testing.T, alone bool, brokers []string, extra map[string]any, secure map[string]string) (harness.Settings, []string) {
	js := healthySettings(t, faultNone, faultNone)
	topics := kafkaTopics()
	if alone {
		topics = topics[1:]
	}
	k := map[string]any{"brokers": brokers, "topics": topics}
	for key, v := range extra {
		k[key] = v
	}
	if m, ok := extra["auditEncoding"]; ok {
		delete(k, "auditEncoding")
		topics[len(topics)-1]["encoding"] = m
	}
	js["kafka"] = k
	return settings(js, secure), sourcesIf(alone, "kafka")
}

// topicIDOf returns the topic ID Fetch requests (v13+) use instead of names.
func topicIDOf(t *testing.T, c *kfake.Cluster, topic string) [16]byte {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctxT(t, 10*time.Second), topic)
	require.NoError(t, err)
	return td[topic].ID
}

// onAuditFetch makes every Fetch of the audit topic answer with fn.
func onAuditFetch(t *testing.T, c *kfake.Cluster, fn func(*kmsg.FetchRequest) (kmsg.Response, error)) {
	id := topicIDOf(t, c, topicAudit)
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		freq := req.(*kmsg.FetchRequest)
		if !kafkatest.FetchesTopic(freq, topicAudit, id) {
			return nil, nil, false
		}
		resp, err := fn(freq)
		return resp, err, true
	})
}

func saslCluster(t *testing.T) *kfake.Cluster {
	allow := func(topic string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: topic, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	return newKafka(t, true, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", kafkaAdmin, kafkaAdminPw),
		// The plugin's user may read otlp_logs only: audit is forbidden.
		kfake.User("PLAIN", kafkaUser, kafkaPassword, allow(topicOTLP, kmsg.ACLOperationRead), allow(topicOTLP, kmsg.ACLOperationDescribe)))
}

func kafkaCases() []faultCase {
	sasl := func(user string) map[string]any {
		return map[string]any{"sasl": map[string]any{"mechanism": "PLAIN", "username": user}}
	}
	return []faultCase{
		{
			source: "Kafka (all topics)", sourceRE: kafkaRE, fault: "broker unreachable",
			reasonRE: regexp.MustCompile(`no broker reachable|connection refused`),
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				return kafkaSettings(t, alone, []string{upstreamtest.ClosedAddr(t)}, nil, nil)
			},
		},
		{
			source: "Kafka topic audit", sourceRE: auditRE, fault: "broker error code on Fetch (UNKNOWN_SERVER_ERROR)",
			reasonRE: regexp.MustCompile(`broker error.*UNKNOWN_SERVER_ERROR`),
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				c := newKafka(t, false)
				onAuditFetch(t, c, func(req *kmsg.FetchRequest) (kmsg.Response, error) {
					return kafkatest.FetchError(req, kerr.UnknownServerError.Code), nil
				})
				return kafkaSettings(t, alone, c.ListenAddrs(), nil, nil)
			},
		},
		{
			source: "Kafka topic audit", sourceRE: auditRE, fault: "connection dropped mid-fetch",
			reasonRE: regexp.MustCompile(`broker error`),
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				c := newKafka(t, false)
				onAuditFetch(t, c, func(*kmsg.FetchRequest) (kmsg.Response, error) {
					return nil, errors.New("injected: drop the connection")
				})
				return kafkaSettings(t, alone, c.ListenAddrs(), nil, nil)
			},
		},
		{
			source: "Kafka topic audit", sourceRE: auditRE, fault: "slow: Fetch never answered (query deadline 10s)",
			reasonRE: regexp.MustCompile(`(?i)timed out|timeout|deadline`),
			deadline: 10 * time.Second,
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				c := newKafka(t, false)
				onAuditFetch(t, c, func(*kmsg.FetchRequest) (kmsg.Response, error) { return nil, nil })
				return kafkaSettings(t, alone, c.ListenAddrs(), map[string]any{"timeout": "3s"}, nil)
			},
		},
		{
			source: "Kafka topic audit", sourceRE: auditRE, fault: "topic deleted",
			reasonRE: regexp.MustCompile(`does not exist`),
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				c := newKafka(t, false)
				cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
				require.NoError(t, err)
				defer cl.Close()
				resp, err := kadm.NewClient(cl).DeleteTopics(ctxT(t, 10*time.Second), topicAudit)
				require.NoError(t, err)
				require.NoError(t, resp.Error())
				return kafkaSettings(t, alone, c.ListenAddrs(), nil, nil)
			},
		},
		{
			source: "Kafka topic audit", sourceRE: auditRE, fault: "authorization failure (SASL user without ACL)",
			reasonRE: regexp.MustCompile(`not authorized`),
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				c := saslCluster(t)
				return kafkaSettings(t, alone, c.ListenAddrs(), sasl(kafkaUser), map[string]string{"kafkaPassword": kafkaPassword})
			},
		},
		{
			source: "Kafka (all topics)", sourceRE: kafkaRE, fault: "authentication failure (wrong SASL password)",
			reasonRE: regexp.MustCompile(`rejected the SASL login`),
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				c := saslCluster(t)
				return kafkaSettings(t, alone, c.ListenAddrs(), sasl(kafkaUser), map[string]string{"kafkaPassword": "not-" + kafkaPassword})
			},
		},
		{
			source: "Kafka topic audit", sourceRE: auditRE, fault: "garbage bytes in a record",
			reasonRE: regexp.MustCompile(`undecodable records skipped`),
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				c := newKafka(t, false)
				produceTo(t, c, topicAudit, append(append([]byte("\x00\xff{{garbage trace_id="), traceID...), garbage(64)...))
				return kafkaSettings(t, alone, c.ListenAddrs(), nil, nil)
			},
		},
		{
			source: "Kafka topic audit", sourceRE: auditRE, fault: "wrong encoding configured (JSON lines read as otlp_proto)",
			reasonRE: regexp.MustCompile(`undecodable records skipped`),
			setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
				c := newKafka(t, false)
				return kafkaSettings(t, alone, c.ListenAddrs(), map[string]any{"auditEncoding": "otlp_proto"}, nil)
			},
		},
	}
}

func produceTo(t *testing.T, c *kfake.Cluster, topic string, value []byte) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(ctxT(t, 10*time.Second), &kgo.Record{Topic: topic, Value: value, Timestamp: exportTime}).FirstErr())
}

// observed is what one query of the matrix returned, for the doc.
type observed struct {
	res     result
	grpcErr error
	elapsed time.Duration
}

func (o observed) summary() string {
	if o.grpcErr != nil {
		st := status.Convert(o.grpcErr)
		if st.Code() == codes.DeadlineExceeded {
			// The description depends on which side noticed first.
			return "**panel-wide gRPC error**: code = DeadlineExceeded"
		}
		return fmt.Sprintf("**panel-wide gRPC error**: code = %s desc = %s", st.Code(), st.Message())
	}
	if o.res.err != nil {
		return fmt.Sprintf("RefID error (status %d): %s", o.res.status, o.res.err)
	}
	spans := "no trace"
	if o.res.spans > 0 {
		spans = fmt.Sprintf("%d spans", o.res.spans)
	}
	if o.res.traces >= 0 {
		spans = fmt.Sprintf("traces found: %d, %s", o.res.traces, spans)
	}
	return fmt.Sprintf("partial: %s; %s", spans, o.res.logSummary())
}

func (o observed) text() string {
	s := strings.Join(o.res.notices, " / ")
	if o.res.err != nil {
		s = o.res.err.Error() + " / " + s
	}
	return s
}

// queryKind is a query the matrix asks under every fault: the trace query
// of traceID, or the search that finds it.
type queryKind struct {
	name  string
	build func(refID string, model map[string]any) backend.DataQuery
}

var (
	traceQuery = queryKind{"trace", query}
	searchKind = queryKind{"search", searchQuery}
	queryKinds = []queryKind{traceQuery, searchKind}
)

// runFault asks the plugin the query of kind and reports what a user must
// see but did not: a gRPC (panel-wide) error, a hang, or a message that
// does not name the source or the reason.
func runFault(t *testing.T, p *harness.Plugin, c faultCase, kind queryKind, alone bool) (observed, []string) {
	s, sources := c.setup(t, alone)
	model := map[string]any{}
	if sources != nil {
		model["sources"] = sources
	}
	start := time.Now()
	deadline := c.deadline
	if deadline == 0 {
		deadline = caseTimeout
	}
	resp, err := p.QueryData(ctxT(t, deadline), s, kind.build("A", model))
	o := observed{elapsed: time.Since(start), grpcErr: err}
	if err != nil {
		return o, []string{fmt.Sprintf("QueryData's gRPC call failed (a panel-wide error): %v", err)}
	}
	o.res = resultOf(t, resp, "A")
	var problems []string
	if text := o.text(); !c.sourceRE.MatchString(text) {
		problems = append(problems, fmt.Sprintf("the message does not name the failing source (%s): %q", c.sourceRE, text))
	} else if !c.reasonRE.MatchString(text) {
		problems = append(problems, fmt.Sprintf("the message does not give the reason in plain words (%s): %q", c.reasonRE, text))
	}
	return o, problems
}

// searchCases are the faults only a search meets: its found trace's fetch
// by ID failing while the search itself answers.
func searchCases() []faultCase {
	return []faultCase{{
		source: "Tempo trace by ID", sourceRE: regexp.MustCompile(`trace ` + traceID + `: Tempo failed`), fault: string(fault500),
		reasonRE: httpReasons[fault500],
		setup: func(t *testing.T, alone bool) (harness.Settings, []string) {
			js := healthySettings(t, faultNone, faultNone)
			js["tempo"] = map[string]any{"url": newTempoFaults(t, faultNone, fault500, tempoAuth{}).URL, "timeout": "500ms"}
			js["kafka"] = map[string]any{"brokers": newKafka(t, false).ListenAddrs(), "topics": kafkaTopics()}
			return settings(js, nil), sourcesIf(alone, "tempo")
		},
	}}
}

// TestFaultMatrix injects every fault into one source while the others
// work, through the built binary, and checks the user gets the other
// sources' data plus a notice naming the failing source and the reason;
// asked alone, the source gives a per-RefID error (or notice) naming it.
// Each fault is met by the trace query and by the search. The observed
// outcomes are docs/FAULTS.md: -update rewrites it, otherwise the test
// fails when the file and the plugin disagree.
func TestFaultMatrix(t *testing.T) {
	p := harness.Start(t)
	cases := map[string][]faultCase{
		traceQuery.name: append(httpCases(), kafkaCases()...),
		searchKind.name: append(append(httpCases(), searchCases()...), kafkaCases()...),
	}
	rows := map[string][]string{}
	for _, kind := range queryKinds {
		for _, c := range cases[kind.name] {
			t.Run(kind.name+"/"+c.source+"/"+c.fault, func(t *testing.T) {
				with, problems := runFault(t, p, c, kind, false)
				if with.grpcErr == nil {
					problems = append(problems, healthyProblems(c, kind, with.res)...)
				}
				alone, aloneProblems := runFault(t, p, c, kind, true)
				problems = append(problems, aloneProblems...)
				t.Logf("with others: %s in %s | alone: %s in %s", with.summary(), with.elapsed.Round(time.Millisecond), alone.summary(), alone.elapsed.Round(time.Millisecond))
				rows[kind.name] = append(rows[kind.name], fmt.Sprintf("| %s | %s | %s | %s | %s |", c.source, c.fault,
					stable(with.summary()), stable(strings.Join(sourceNotices(with.res.notices), " / ")), stable(alone.summary()+noticeSuffix(alone))))
				// Every fault × source row is asserted: a row that breaks fails.
				for _, pr := range problems {
					t.Error(pr)
				}
			})
		}
	}
	if t.Failed() {
		return
	}
	for _, kind := range queryKinds {
		if len(rows[kind.name]) != len(cases[kind.name]) {
			t.Logf("ran %d of %d %s rows (-run selects a subset): docs/FAULTS.md is neither checked nor written", len(rows[kind.name]), len(cases[kind.name]), kind.name)
			return
		}
	}
	doc := renderFaultsDoc(rows[traceQuery.name], rows[searchKind.name])
	if *update {
		require.NoError(t, os.WriteFile(faultsDoc, []byte(doc), 0o644))
		return
	}
	committed, err := os.ReadFile(faultsDoc)
	require.NoError(t, err, "docs/FAULTS.md is missing: run go test ./test/reliability -run TestFaultMatrix -update")
	assert.Equal(t, string(committed), doc, "docs/FAULTS.md no longer matches the plugin's behaviour: review the diff, then run go test ./test/reliability -run TestFaultMatrix -update")
}

func noticeSuffix(o observed) string {
	n := sourceNotices(o.res.notices)
	if o.res.err != nil || len(n) == 0 {
		return ""
	}
	return " — notice: " + strings.Join(n, " / ")
}

var sourceNoticeRE = regexp.MustCompile(`(?i)^(tempo|loki|kafka|trace [0-9a-f]{32}: tempo)`)

// sourceNotices keeps the notices about sources; the incident summary adds
// its own (first error, slowest span), which are not the matrix's subject.
func sourceNotices(all []string) []string {
	var out []string
	for _, n := range all {
		if sourceNoticeRE.MatchString(n) {
			out = append(out, n)
		}
	}
	return out
}

// healthyProblems checks the sources that do not fail still deliver. A
// search is Tempo's: when Tempo's search fails there is nothing to show,
// and the query must fail naming it.
func healthyProblems(c faultCase, kind queryKind, r result) []string {
	var out []string
	want := func(what string, got, n int) {
		if got != n {
			out = append(out, fmt.Sprintf("%s: got %d, want %d", what, got, n))
		}
	}
	if kind.name == searchKind.name && c.source == "Tempo" {
		if r.err == nil {
			out = append(out, "a search whose Tempo search failed must fail, got frames")
		}
		return out
	}
	if r.err != nil {
		out = append(out, fmt.Sprintf("with other sources healthy the result must be partial, got the error %v", r.err))
	}
	if kind.name == searchKind.name {
		// The trace's row: 8 spans, from the trace or, when its fetch by ID
		// failed, from the search answer's service stats.
		want("traces found", r.traces, 1)
	}
	if c.source != "Tempo" {
		want("Tempo's spans", r.spans, 8)
	}
	if c.source != "Loki" {
		want("Loki's lines", r.logs["loki"], lokiLines)
	}
	if !strings.HasPrefix(c.source, "Kafka") {
		want("Kafka otlp_logs lines", r.logs["kafka:otlp_logs"], 1)
		want("Kafka audit lines", r.logs["kafka:audit"], 1)
	}
	if c.source == "Kafka topic audit" {
		want("the other topic's lines", r.logs["kafka:otlp_logs"], 1)
	}
	return out
}

func renderFaultsDoc(rows, searchRows []string) string {
	var b strings.Builder
	b.WriteString(`# Fault matrix: what a user sees when an upstream fails

Generated by ` + "`go test ./test/reliability -run TestFaultMatrix -update`" + ` from what the built
` + "`gpx_traceweave`" + ` binary returned over Grafana's plugin gRPC protocol. Without ` + "`-update`" + `
the test fails when the plugin's behaviour and this file disagree, so the file cannot drift.

Setup of every row: Tempo and Loki are httptest servers replaying the recorded fixtures
(` + "`tempo.timeout`" + ` and ` + "`loki.timeout`" + ` are 500ms), Kafka is an in-process kfake cluster with two
topics, ` + "`otlp_logs`" + ` (otlp_proto, keyed by trace ID) and ` + "`audit`" + ` (JSON lines), one line of the
trace in each. One source fails at a time; the trace query asks for trace
` + "`" + traceID + "`" + ` with a panel time range that covers it, and the search query (second table)
finds that trace over the same range.

- **With the other sources**: what the panel still shows. The fixture trace has 8 spans and 9 Loki lines;
  a healthy run shows ` + "`8 spans; kafka:audit 1, kafka:otlp_logs 1, loki 9`" + `.
- **Notices**: the frame notices (shown above the panel), verbatim, except that ports are replaced by
  ` + "`PORT`" + ` and Go's HTTP client timeout text, which varies between runs, by "(Go HTTP client timeout)".
- **Asked alone**: the same fault when the query's ` + "`sources`" + ` lists only the failing source
  (for Kafka, only the failing topic is configured): a per-RefID error that names it, never a
  panel-wide error.

A Tempo or Loki answering 429 or 503 with a Retry-After of at most 2s is asked once more after that
wait (pkg/tempo and pkg/loki retry tests); the 429 row here asks for 30s, so it is reported at once.

In every row the gRPC QueryData call itself succeeds and returns within the
test's deadline (45s; the slowest query, the Kafka timeout row's, takes about 3s). Notices of the incident summary (first error,
slowest span) are left out: they do not depend on the fault.

## Trace query

| Source | Fault | With the other sources | Notices | Asked alone |
|---|---|---|---|---|
`)
	for _, r := range rows {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	b.WriteString(`
## Search query

The same faults met by a search, ` + "`" + `{"queryType":"search","traceql":` + strconv.Quote(searchTraceQL) + `}` + "`" + ` over the same
range, whose recorded Tempo answer (` + "`test/reliability/testdata/tempo_search_traceql.json`" + `) finds the
trace: one row, 8 spans. A healthy run shows ` + "`traces found: 1, 8 spans; kafka:audit 1, kafka:otlp_logs 1, loki 9`" + `
(the row's per-source columns).

- **Tempo** rows fail Tempo's search and its trace by ID alike: without the search there are no
  rows, so the query fails with Tempo's error. **Tempo trace by ID** fails only the fetch of the
  found trace: its row keeps the search answer's figures (its span count from the service stats).
- A failing log source never fails a search: the rows stay, with a notice naming the source.
- **Asked alone**: the query's ` + "`sources`" + ` lists only that source; Tempo is always asked, a search is
  Tempo's.

| Source | Fault | With the other sources | Notices | Asked alone |
|---|---|---|---|---|
`)
	for _, r := range searchRows {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	return b.String()
}

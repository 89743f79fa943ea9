// Package kafka is the Kafka archive source: it finds the log lines of one
// trace (Read), or of the many traces a search found (ReadTraces), in topics
// the OpenTelemetry Collector's kafkaexporter (or another shipper) writes,
// without consuming whole topics. Per topic it reads only the partitions
// trace-keyed messages land in (PartitionFor), seeks each partition to the
// window start by timestamp, stops at the window end or the high watermark
// seen at the start, skips non-matching messages with a byte search before
// decoding, and decodes the survivors (otlp_proto, otlp_json, raw, json,
// text) into timeline.LogRecord.
//
// Fetching is done with direct Fetch requests to each partition's leader on
// a kgo.Client shared by the instance's Reads (ReadTraces has a second one,
// see Reader.bulk): no consumer group, no background prefetch, no state
// shared between concurrent searches, and every retry is bounded.
package kafka

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// ClientID is the client id the brokers see (their logs, quotas and ACL
// audit name Traceweave by it).
const ClientID = "traceweave"

const (
	// partitionsAtOnce is how many partitions one search reads at once.
	partitionsAtOnce = 8
	// Without a known end offset (the end-offset hint failed) a partition's
	// first fetch is small, because a keyed, well-seeked partition often
	// needs little, and each further fetch doubles up to the max. With one,
	// fetches are sized to the window (fetch_size.go), up to the max.
	firstFetchBytes = 128 << 10
	maxFetchBytes   = 8 << 20
	fetchMaxWaitMs  = 200
	defaultAttempts = 4
	defaultBackoff  = 100 * time.Millisecond
)

// Window is the time range to search, already padded by the caller (trace
// start − window.before, trace end + window.after). Kafka record timestamps
// are export times, which is why the end needs the export-delay padding. A
// zero Start searches from the oldest offset; a zero End reads up to the
// high watermark.
type Window struct {
	Start, End time.Time
}

// Result is what one search found, one entry per configured topic in
// configuration order.
type Result struct {
	Topics []TopicResult
}

// Records returns the records of every topic, in topic order.
func (r *Result) Records() []timeline.LogRecord {
	var out []timeline.LogRecord
	for i := range r.Topics {
		out = append(out, r.Topics[i].Records...)
	}
	return out
}

// Err joins the topics' errors (nil when every topic was read), for callers
// that want one notice.
func (r *Result) Err() error {
	var errs []error
	for i := range r.Topics {
		if r.Topics[i].Err != nil {
			errs = append(errs, r.Topics[i].Err)
		}
	}
	return errors.Join(errs...)
}

// TopicResult is the outcome of one topic. A topic that failed keeps the
// records found before the failure (a partial result) and says why in Err.
type TopicResult struct {
	Topic   string
	Records []timeline.LogRecord
	// Err is nil, an *upstream.Error around a *TopicError (errors.Is:
	// ErrTopicNotFound, ErrAuthorization, ErrAuthentication, ErrUnreachable,
	// ErrBroker, or a context error), or an invalid-trace-ID error
	// (models.ErrInvalidTraceID).
	Err error
	// Skipped counts messages that matched the prefilter but could not be decoded.
	Skipped int
	// Scanned counts records fetched and examined (within the window).
	Scanned int64
	// Bytes counts record-batch bytes fetched from the brokers.
	Bytes int64
	// Partitions is the topic's partition count.
	Partitions int32
	// PartitionsRead counts partitions whose window was read to its end.
	PartitionsRead int
	// Capped is true when the search stopped at kafka.maxRecords or
	// kafka.maxBytes before this topic was fully read.
	Capped bool
}

// Progress is a snapshot of a running search, for a CLI progress line.
type Progress struct {
	RecordsScanned  int64
	BytesFetched    int64
	RecordsMatched  int64
	PartitionsDone  int
	PartitionsTotal int
}

// Option configures a Reader.
type Option func(*options)

type options struct {
	progress func(Progress)
	attempts int
	backoff  time.Duration
}

// WithProgress calls fn after every fetch and once at the end. Calls are
// serialised; fn must return quickly.
func WithProgress(fn func(Progress)) Option { return func(o *options) { o.progress = fn } }

// withRetries sets how often a failing fetch or offset request is tried
// (attempts ≥ 1) and the first backoff, doubled after each failure. Only
// tests change them: the defaults are the product's.
func withRetries(attempts int, backoff time.Duration) Option {
	return func(o *options) {
		if attempts > 0 {
			o.attempts = attempts
		}
		if backoff > 0 {
			o.backoff = backoff
		}
	}
}

// Reader searches Kafka topics for traces' log lines. It is safe for
// concurrent use; Close it when the datasource instance is disposed.
type Reader struct {
	// saslFailing is set while SASL authentication reads fail: kfake (and
	// some proxies) close the connection instead of answering
	// SaslAuthenticationFailed, which reaches us as a bare EOF.
	saslFailing atomic.Bool

	cfg models.KafkaSettings
	cl  *kgo.Client
	// bulk is a second client, with connections of its own, for the Fetch
	// requests of ReadTraces. A broker answers the requests of one
	// connection one at a time, in order, so on a shared connection a
	// search's large fetches hold back the small fetches of the trace
	// query its dashboard opens at the same time. In
	// BenchmarkDashboardOpenWithSearch (BENCHMARKS.md, run G) the trace's
	// panels were filled 700–830 ms after the open with one client and
	// 460–740 ms with two (the trace query alone: 120 ms). Metadata and
	// offsets stay on cl.
	bulk         *kgo.Client
	adm          *kadm.Client
	opts         options
	decompressor kgo.Decompressor
}

// New creates the Reader's client (no connection is made until the first
// request). SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 and TLS come from
// cfg; retries are bounded so a dead broker fails a search instead of
// hanging it.
func New(cfg models.KafkaSettings, opts ...Option) (*Reader, error) {
	o := options{attempts: defaultAttempts, backoff: defaultBackoff}
	for _, opt := range opts {
		opt(&o)
	}
	cfg = cfg.WithDefaults() // unset caps and topic encodings: the rule LoadSettings applies
	if len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("%w: kafka.brokers: no broker configured", models.ErrInvalidSettings)
	}
	if cfg.MaxRecords < 0 || cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("%w: kafka.maxRecords and kafka.maxBytes must not be negative", models.ErrInvalidSettings)
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(ClientID),
		kgo.DialTimeout(10 * time.Second),
		kgo.RequestRetries(3),
		kgo.RetryTimeout(15 * time.Second),
		kgo.RequestTimeoutOverhead(10 * time.Second),
	}
	switch cfg.SASL.Mechanism {
	case "":
	case models.SASLPlain:
		kopts = append(kopts, kgo.SASL(plain.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsMechanism()))
	case models.SASLScramSHA256:
		kopts = append(kopts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsSha256Mechanism()))
	case models.SASLScramSHA512:
		kopts = append(kopts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("%w: kafka.sasl.mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", models.ErrInvalidSettings, cfg.SASL.Mechanism)
	}
	if cfg.TLS.Enabled {
		roots, err := cfg.TLS.CertPool()
		if err != nil {
			return nil, fmt.Errorf("%w: secureJsonData.kafkaTLSCACert: %v", models.ErrInvalidSettings, err)
		}
		kopts = append(kopts, kgo.DialTLSConfig(&tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            roots,                      // nil: the system's roots
			InsecureSkipVerify: cfg.TLS.InsecureSkipVerify, //nolint:gosec // opt-in for self-signed test brokers
		}))
	}
	r := &Reader{cfg: cfg, opts: o, decompressor: kgo.DefaultDecompressor()}
	if cfg.SASL.Mechanism != "" {
		kopts = append(kopts, kgo.WithHooks(saslHook{r}))
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: kafka: %v", models.ErrInvalidSettings, err)
	}
	bulk, err := kgo.NewClient(kopts...)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("%w: kafka: %v", models.ErrInvalidSettings, err)
	}
	r.cl, r.bulk, r.adm = cl, bulk, kadm.NewClient(cl)
	return r, nil
}

// saslHook records whether SaslAuthenticate exchanges fail.
type saslHook struct{ r *Reader }

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (h saslHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key == int16(kmsg.SASLAuthenticate) {
		h.r.saslFailing.Store(e2e.Err() != nil)
	}
}

// explain turns a connection closed during a failing SASL exchange into the
// authentication failure it is, so the user is told to check credentials
// rather than the network.
func (r *Reader) explain(err error) error {
	if err == nil {
		return err
	}
	if te := explainTLS(err); te != nil {
		return te
	}
	if !r.saslFailing.Load() {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w: the brokers closed the connection during SASL authentication (%w)", kerr.SaslAuthenticationFailed, err)
	}
	return err
}

// TLSError is a failed TLS handshake with a broker. Its message says it is
// TLS, what is wrong with the certificate and which setting fixes it, so a
// user with a private CA is not sent to check the network.
type TLSError struct {
	// Hint names the setting to change.
	Hint  string
	Cause error
}

// Error says the handshake failed, why and what to change.
func (e *TLSError) Error() string {
	return "TLS handshake with the broker failed: " + e.Cause.Error() + " (" + e.Hint + ")"
}

// Unwrap exposes the cause (a *tls.CertificateVerificationError, an x509 error, …).
func (e *TLSError) Unwrap() error { return e.Cause }

// explainTLS is a *TLSError when err is a failed TLS handshake, nil otherwise.
func explainTLS(err error) error {
	var (
		verify    *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		header    tls.RecordHeaderError
		alert     tls.AlertError
	)
	const caHint = "set secureJsonData.kafkaTLSCACert to the PEM of the CA that signed the brokers' certificates, or kafka.tls.insecureSkipVerify for test brokers only"
	switch {
	case errors.As(err, &unknownCA):
		return &TLSError{Hint: "the broker's certificate is not signed by a trusted CA: " + caHint, Cause: err}
	case errors.As(err, &hostname):
		return &TLSError{Hint: "the broker's certificate is not for the address in kafka.brokers: use the name the certificate is for", Cause: err}
	case errors.As(err, &invalid), errors.As(err, &verify):
		return &TLSError{Hint: "the broker's certificate was rejected: " + caHint, Cause: err}
	case errors.As(err, &header):
		return &TLSError{Hint: "the broker did not answer TLS: turn kafka.tls.enabled off or use the brokers' TLS listener", Cause: err}
	case errors.As(err, &alert):
		return &TLSError{Hint: "the broker refused the TLS handshake: check the TLS version and whether it requires a client certificate", Cause: err}
	}
	return nil
}

// Close closes the clients and their broker connections.
func (r *Reader) Close() {
	r.cl.Close()
	r.bulk.Close()
}

// topicMeta is what metadata says about one topic.
type topicMeta struct {
	id      [16]byte
	leaders map[int32]int32 // partition → leader broker (-1 without leader)
	err     error
}

// describeTopics asks one broker for the topics' metadata. Topics are
// requested by name with auto-creation off (a search must never create a
// topic); each topic keeps its own error.
func (r *Reader) describeTopics(ctx context.Context, names []string) (map[string]*topicMeta, *kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	for _, n := range names {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, r.cl)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]*topicMeta, len(names))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		tm := &topicMeta{id: t.TopicID, leaders: make(map[int32]int32, len(t.Partitions)), err: kerr.ErrorForCode(t.ErrorCode)}
		for _, p := range t.Partitions {
			tm.leaders[p.Partition] = p.Leader
		}
		out[*t.Topic] = tm
	}
	for _, n := range names {
		if out[n] == nil {
			out[n] = &topicMeta{err: kerr.UnknownTopicOrPartition}
		}
	}
	return out, resp, nil
}

// Read searches every configured topic for the records of traceID within
// win. It never fails as a whole: each topic has its own result and error,
// so one missing or forbidden topic does not hide the others' lines.
func (r *Reader) Read(ctx context.Context, traceID string, win Window) *Result {
	res := r.newResult()
	defer traceTopics(ctx, res)()
	if len(res.Topics) == 0 {
		return res
	}
	m, err := newTraceMatcher(traceID)
	if err != nil {
		res.failAll(err)
		return res
	}
	r.search(ctx, r.cl, m, []searchWindow{{win: win, ids: m.ids[0].only}}, res)
	return res
}

// newResult is a Result with one empty entry per configured topic.
func (r *Reader) newResult() *Result {
	res := &Result{Topics: make([]TopicResult, len(r.cfg.Topics))}
	for i, t := range r.cfg.Topics {
		res.Topics[i].Topic = t.Name
	}
	return res
}

// failAll gives every topic the same error (nothing was fetched).
func (r *Result) failAll(err error) {
	for i := range r.Topics {
		r.Topics[i].Err = err
	}
}

// searchWindow is one time range of a search and the IDs searched in it:
// Read has one, ReadTraces one per group of trace windows.
type searchWindow struct {
	win Window
	ids []int32 // ID numbers (the matcher's), increasing
}

// holds reports whether the window searches the ID numbered n.
func (w *searchWindow) holds(n int32) bool {
	_, ok := slices.BinarySearch(w.ids, n)
	return ok
}

// search reads every topic of res for the IDs of m, each within the
// windows that hold it, and fills res; it returns the topics' runs (in
// res's order) with their records sorted, each with the IDs it belongs to.
func (r *Reader) search(ctx context.Context, fetchWith *kgo.Client, m *traceMatcher, wins []searchWindow, res *Result) []*topicRun {
	names := make([]string, len(r.cfg.Topics))
	for i, t := range r.cfg.Topics {
		names[i] = t.Name
	}
	metas, _, err := r.describeTopics(ctx, names)
	if err != nil {
		for i := range res.Topics {
			res.Topics[i].Err = topicErr(names[i], -1, r.explain(err))
		}
		return nil
	}
	s := &search{
		r:    r,
		cl:   fetchWith,
		m:    m,
		wins: wins,
		budget: budget{
			maxRecords: r.cfg.MaxRecords,
			maxBytes:   r.cfg.MaxBytes,
		},
	}
	runs := make([]*topicRun, len(r.cfg.Topics))
	var wg sync.WaitGroup
	for i, t := range r.cfg.Topics {
		run := &topicRun{r: r, cfg: t, res: &res.Topics[i], meta: metas[t.Name], source: timeline.KafkaSource(t.Name),
			decode: decoderFor(t.Encoding), pre: newPrefilter(t.Encoding, m), keyed: t.KeyedByTraceID}
		if run.keyed {
			// A keyed message is decoded for its key's trace alone, as a
			// search of that trace does.
			if s.ones == nil {
				s.ones = make([]*traceMatcher, len(m.ids))
				for n := range m.ids {
					s.ones[n] = m.oneMatcher(int32(n))
				}
			}
			run.pres = make([]prefilter, len(m.ids))
			for n := range m.ids {
				run.pres[n] = newPrefilter(t.Encoding, s.ones[n])
			}
		}
		runs[i] = run
		if run.meta.err != nil {
			run.fail(-1, run.meta.err)
			continue
		}
		run.res.Partitions = int32(len(run.meta.leaders))
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.plan(ctx, run)
		}()
	}
	wg.Wait()
	s.run(ctx, runs)
	for _, run := range runs {
		run.finish()
	}
	s.report()
	return runs
}

// search is the state of one Read or ReadTraces.
type search struct {
	r *Reader
	// cl sends the Fetch requests: Reader.cl for Read, Reader.bulk for
	// ReadTraces.
	cl *kgo.Client
	m  *traceMatcher
	// ones[n] is the matcher of ID n alone, for keyed topics.
	ones   []*traceMatcher
	wins   []searchWindow
	budget budget

	mu              sync.Mutex // serialises progress calls and guards tasks
	tasks           []*partitionTask
	partitionsDone  atomic.Int64
	partitionsTotal int
	matched         atomic.Int64
}

// budget enforces kafka.maxRecords and kafka.maxBytes across all topics of a search.
type budget struct {
	maxRecords, maxBytes int64
	records, bytes       atomic.Int64
}

func (b *budget) takeRecord() bool { return b.records.Add(1) <= b.maxRecords }
func (b *budget) bytesLeft() int64 { return b.maxBytes - b.bytes.Load() }
func (b *budget) exhausted() bool {
	return b.records.Load() >= b.maxRecords || b.bytes.Load() >= b.maxBytes
}

// topicRun collects one topic's results from its partition tasks.
type topicRun struct {
	r      *Reader
	cfg    models.KafkaTopic
	res    *TopicResult
	meta   *topicMeta
	source string
	decode decodeFunc
	pre    prefilter
	// keyed says messages are keyed by their trace ID; pres[n] is then the
	// prefilter of ID n alone.
	keyed bool
	pres  []prefilter

	mu        sync.Mutex
	found     []found
	firstErr  error
	failed    int
	capped    bool
	skipped   int
	scanned   int64
	bytes     int64
	partsRead int
}

// found is a record with its position, for a stable order, and the IDs it
// belongs to.
type found struct {
	rec       timeline.LogRecord
	ids       []int32
	partition int32
	offset    int64
	index     int
}

// fail records a partition's (or, with -1, the topic's) error; the first
// error is reported, the count of further failed partitions is appended.
func (t *topicRun) fail(partition int32, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.firstErr == nil {
		t.firstErr = topicErr(t.cfg.Name, partition, t.r.explain(err))
	}
	t.failed++
}

func (t *topicRun) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	sort.Slice(t.found, func(i, j int) bool {
		a, b := &t.found[i], &t.found[j]
		if a.rec.TimeNs != b.rec.TimeNs {
			return a.rec.TimeNs < b.rec.TimeNs
		}
		if a.partition != b.partition {
			return a.partition < b.partition
		}
		if a.offset != b.offset {
			return a.offset < b.offset
		}
		return a.index < b.index
	})
	if len(t.found) > 0 {
		t.res.Records = make([]timeline.LogRecord, len(t.found))
		for i := range t.found {
			t.res.Records[i] = t.found[i].rec
		}
	}
	t.res.Err = t.firstErr
	if t.failed > 1 {
		t.res.Err = fmt.Errorf("%w (and %d more partitions failed)", t.firstErr, t.failed-1)
	}
	t.res.Skipped = t.skipped
	t.res.Scanned = t.scanned
	t.res.Bytes = t.bytes
	t.res.PartitionsRead = t.partsRead
	t.res.Capped = t.capped
}

// partitionTask is one partition to read: the offset range of each window
// of the search that concerns the partition, read in one pass.
type partitionTask struct {
	run       *topicRun
	partition int32
	leader    int32
	// end is the high watermark at the start of the search.
	end int64
	// ranges are the windows' offset ranges, by start; empty ones are left
	// out.
	ranges []offsetRange
	// segs are the ranges merged: overlapping or adjacent ranges joined, so
	// the pass fetches each offset at most once, and jumps the gaps.
	segs []segment
}

// offsetRange is one window's offset range on a partition: [start, stop).
type offsetRange struct {
	w     *searchWindow
	start int64
	// stop is the task's end or, when the end-offset hint names a record
	// past the window end (ListOffsets(window end + 1 ms) answers an offset
	// and that record's timestamp), the hint: reading from start stops at
	// the first record past the window end, which is at or before that
	// one, so nothing from the hint on is read and fetching it would be
	// waste. This needs only the answered timestamp to be the record's; a
	// conforming broker also answers the earliest such offset, so stop is
	// exactly where reading stops, even with out-of-order producer
	// timestamps. Records are still checked against the window end, for
	// partitions without a hint.
	stop int64
	// exact says stop is where the window ends in offsets (a hint, no
	// record past the window end yet, or no window end): fetches are then
	// sized to end there (fetch_size.go). Otherwise fetches grow by doubling.
	exact bool
	// endMs is the window end in ms (record timestamps are ms), when hasEnd.
	endMs  int64
	hasEnd bool
}

// segment is a run of overlapping or adjacent offset ranges: [start, stop).
type segment struct {
	start, stop int64
	exact       bool // every range of it is exact
}

// mergeRanges sorts ranges by start and joins those that overlap or touch.
func mergeRanges(ranges []offsetRange) []segment {
	slices.SortStableFunc(ranges, func(a, b offsetRange) int { return cmp.Compare(a.start, b.start) })
	var segs []segment
	for _, r := range ranges {
		if n := len(segs); n > 0 && r.start <= segs[n-1].stop {
			segs[n-1].stop = max(segs[n-1].stop, r.stop)
			segs[n-1].exact = segs[n-1].exact && r.exact
			continue
		}
		segs = append(segs, segment{start: r.start, stop: r.stop, exact: r.exact})
	}
	return segs
}

// windowOffsets are the offsets listed for one window of a topic.
type windowOffsets struct {
	starts, hints kadm.ListedOffsets
	startErr      error
}

// planLists bounds the offset listings one topic has in flight at once
// (two per window of a search).
const planLists = 8

// plan lists the partitions of a topic to read and, per window, the offset
// range: start = first offset at or after the window start (ListOffsets by
// timestamp), end = high watermark now, so a search never waits for new
// data, and stop = the end-offset hint when it names a record past the window
// end (see offsetRange). A keyed topic is read on the partitions of the
// searched keys only, each over the windows of the IDs keyed to it.
func (s *search) plan(ctx context.Context, run *topicRun) {
	name := run.cfg.Name
	n := int32(len(run.meta.leaders))
	var all []int32
	for p := range run.meta.leaders {
		all = append(all, p)
	}
	slices.Sort(all)
	// keyedTo[i] is the partitions window i reads on a keyed topic.
	var keyedTo []map[int32]bool
	if run.keyed {
		keyedTo = make([]map[int32]bool, len(s.wins))
		for i := range s.wins {
			keyedTo[i] = map[int32]bool{}
			for _, id := range s.wins[i].ids {
				keyedTo[i][PartitionFor(s.m.ids[id].lower, n, run.cfg.Hasher)] = true
			}
		}
	}
	lists := make([]windowOffsets, len(s.wins))
	var ends kadm.ListedOffsets
	var endErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, planLists)
	do := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fn()
		}()
	}
	do(func() { ends, endErr = s.r.adm.ListEndOffsets(ctx, name) })
	for i := range s.wins {
		win, l := s.wins[i].win, &lists[i]
		if !win.End.IsZero() {
			do(func() {
				l.hints, _ = s.r.adm.ListOffsetsAfterMilli(ctx, win.End.UnixMilli()+1, name) // a hint: errors only cost bytes
			})
		}
		do(func() {
			if win.Start.IsZero() {
				l.starts, l.startErr = s.r.adm.ListStartOffsets(ctx, name)
			} else {
				l.starts, l.startErr = s.r.adm.ListOffsetsAfterMilli(ctx, win.Start.UnixMilli(), name)
			}
		})
	}
	wg.Wait()
	var tasks []*partitionTask
partitions:
	for _, p := range all {
		en, okEnd := ends.Lookup(name, p)
		var ranges []offsetRange
		read := false
		for i := range s.wins {
			if run.keyed && !keyedTo[i][p] {
				continue
			}
			read = true
			w := &s.wins[i]
			st, okStart := lists[i].starts.Lookup(name, p)
			switch {
			case !okStart || !okEnd:
				err := errors.Join(lists[i].startErr, endErr)
				if err == nil {
					err = fmt.Errorf("%w: no offsets listed", ErrBroker)
				}
				run.fail(p, fmt.Errorf("listing offsets: %w", err))
				continue partitions
			case st.Err != nil:
				run.fail(p, fmt.Errorf("listing offsets at the window start: %w", st.Err))
				continue partitions
			case en.Err != nil:
				run.fail(p, fmt.Errorf("listing end offsets: %w", en.Err))
				continue partitions
			}
			start := st.Offset
			if start < 0 || start > en.Offset {
				start = en.Offset
			}
			r := offsetRange{w: w, start: start, stop: en.Offset, exact: w.win.End.IsZero(),
				hasEnd: !w.win.End.IsZero(), endMs: w.win.End.UnixMilli()}
			if h, ok := lists[i].hints.Lookup(name, p); ok && h.Err == nil {
				switch {
				case h.Timestamp > r.endMs && h.Offset >= start:
					// The broker names a record past the window end, with its timestamp.
					r.stop, r.exact = min(h.Offset, en.Offset), true
				case h.Timestamp < 0 && h.Offset >= 0:
					// No record past the window end (kadm answers the end offset then).
					r.exact = true
				}
			}
			if r.stop > r.start {
				ranges = append(ranges, r)
			}
		}
		if read {
			segs := mergeRanges(ranges)
			tasks = append(tasks, &partitionTask{run: run, partition: p, leader: run.meta.leaders[p], end: en.Offset, ranges: ranges, segs: segs})
		}
	}
	s.mu.Lock()
	s.tasks = append(s.tasks, tasks...)
	s.partitionsTotal += len(tasks)
	s.mu.Unlock()
}

// run reads all planned partitions, several at a time, interleaving topics
// so a big topic does not starve the others.
func (s *search) run(ctx context.Context, runs []*topicRun) {
	byRun := map[*topicRun][]*partitionTask{}
	for _, t := range s.tasks {
		byRun[t.run] = append(byRun[t.run], t)
	}
	var order []*partitionTask
	for more := true; more; {
		more = false
		for _, run := range runs {
			if q := byRun[run]; len(q) > 0 {
				order = append(order, q[0])
				byRun[run] = q[1:]
				more = true
			}
		}
	}
	ch := make(chan *partitionTask)
	var wg sync.WaitGroup
	for i := 0; i < min(partitionsAtOnce, len(order)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range ch {
				s.readPartition(ctx, t)
				s.partitionsDone.Add(1)
				s.report()
			}
		}()
	}
	for _, t := range order {
		ch <- t
	}
	close(ch)
	wg.Wait()
}

func (s *search) report() {
	fn := s.r.opts.progress
	if fn == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(Progress{
		RecordsScanned:  min(s.budget.records.Load(), s.budget.maxRecords),
		BytesFetched:    s.budget.bytes.Load(),
		RecordsMatched:  s.matched.Load(),
		PartitionsDone:  int(s.partitionsDone.Load()),
		PartitionsTotal: s.partitionsTotal,
	})
}

// partitionReader is the per-partition state of readPartition.
type partitionReader struct {
	s        *search
	t        *partitionTask
	found    []found
	scanned  int64
	bytes    int64
	skipped  int
	scratch  []timeline.LogRecord
	rctx     recordContext
	attempts int
	backoff  time.Duration

	// off is the next offset to examine: records below it are not (a gap
	// between two windows' ranges that was jumped, or records a fetch
	// answered from before its offset).
	off int64
	// next is the first range not yet reached; active are the ranges
	// reached whose window has not ended.
	next   int
	active []*offsetRange

	// grow is the byte limit of the next fetch when the segment's stop is
	// not exact: it doubles from firstFetchBytes up to maxFetchBytes.
	grow int64
	// stats are the whole batches fetched so far.
	stats fetchStats
}

// fetchSize is the byte limit of the next fetch at off, in seg.
func (pr *partitionReader) fetchSize(off int64, seg *segment) int64 {
	if !seg.exact {
		return pr.grow
	}
	return sizeFetch(off, seg.stop, pr.t.end, pr.stats)
}

// readPartition fetches the task's ranges of one partition from its leader
// in one pass and stops when every range has reached its window end, on
// cancellation, at the budget, or when retries are exhausted.
func (s *search) readPartition(ctx context.Context, t *partitionTask) {
	run := t.run
	pr := &partitionReader{s: s, t: t, backoff: s.r.opts.backoff,
		rctx: recordContext{m: s.m, topic: run.cfg.Name, source: run.source, partition: t.partition},
		grow: firstFetchBytes}
	capped, err := pr.read(ctx)
	run.mu.Lock()
	run.found = append(run.found, pr.found...)
	run.scanned += pr.scanned
	run.bytes += pr.bytes
	run.skipped += pr.skipped
	if capped {
		run.capped = true
	}
	if err == nil && !capped {
		run.partsRead++
	}
	run.mu.Unlock()
	if err != nil {
		run.fail(t.partition, err)
	}
}

// What advance says about a record.
const (
	recordExamine = iota // in a range whose window has not ended
	recordSkip           // in no such range: a later range starts after it
	recordDone           // past every range: the partition is read
)

// advance moves the ranges on to rec: the ranges starting at or before it
// are reached, and a reached range ends at its stop or at its first record
// past its window end (reading one window stops there, so no later record
// is that window's). With no range left at rec, reading jumps to the next
// range's start.
func (pr *partitionReader) advance(rec *kgo.Record) int {
	t := pr.t
	for pr.next < len(t.ranges) && t.ranges[pr.next].start <= rec.Offset {
		pr.active = append(pr.active, &t.ranges[pr.next])
		pr.next++
	}
	ms := rec.Timestamp.UnixMilli()
	left := pr.active[:0]
	for _, r := range pr.active {
		if rec.Offset < r.stop && (!r.hasEnd || ms <= r.endMs) {
			left = append(left, r)
		}
	}
	pr.active = left
	switch {
	case len(pr.active) > 0:
		return recordExamine
	case pr.next == len(t.ranges):
		return recordDone
	}
	pr.off = t.ranges[pr.next].start
	return recordSkip
}

func (pr *partitionReader) read(ctx context.Context) (capped bool, err error) {
	t, s := pr.t, pr.s
	if len(t.segs) == 0 {
		return false, nil
	}
	seg := 0
	pr.off = t.segs[0].start
	for {
		for seg < len(t.segs) && pr.off >= t.segs[seg].stop {
			if seg++; seg < len(t.segs) {
				pr.off = max(pr.off, t.segs[seg].start)
			}
		}
		if seg == len(t.segs) {
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if s.budget.exhausted() {
			return true, nil
		}
		off := pr.off
		maxBytes := pr.fetchSize(off, &t.segs[seg])
		if left := s.budget.bytesLeft(); left < maxBytes {
			maxBytes = max(left, 1)
		}
		rp, err := pr.fetch(ctx, off, int32(maxBytes))
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				// The context ended the fetch (franz-go drops the connection
				// of a request whose context ends, and reports that): the
				// search timed out or was cancelled, whatever the fetch says.
				return false, cerr
			}
			if !pr.retry(ctx, err) {
				return false, err
			}
			continue
		}
		if rp.ErrorCode != 0 {
			kerrCode := kerr.ErrorForCode(rp.ErrorCode)
			if errors.Is(kerrCode, kerr.OffsetOutOfRange) && rp.LogStartOffset > off {
				// Retention deleted the window's start since ListOffsets: go on from the oldest record left.
				pr.off = rp.LogStartOffset
				continue
			}
			if !pr.retry(ctx, kerrCode) {
				return false, kerrCode
			}
			continue
		}
		n := int64(len(rp.RecordBatches))
		pr.bytes += n
		s.budget.bytes.Add(n)
		pr.stats.add(scanBatches(rp.RecordBatches))
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
			Offset:    off,
			Topic:     t.run.cfg.Name,
			Partition: t.partition,
		}, rp, s.r.decompressor, nil)
		if fp.Err != nil && len(fp.Records) == 0 {
			return false, fmt.Errorf("%w: reading offset %d: %w", ErrBroker, off, fp.Err)
		}
		for _, rec := range fp.Records {
			if rec.Offset < pr.off {
				continue
			}
			switch pr.advance(rec) {
			case recordDone:
				return false, nil
			case recordSkip:
				continue
			}
			if !s.budget.takeRecord() {
				return true, nil
			}
			pr.scanned++
			pr.handle(rec)
		}
		if next <= off {
			// Nothing readable below the high watermark (an empty answer):
			// retry a bounded number of times rather than spin.
			empty := fmt.Errorf("%w: no records returned at offset %d below the high watermark %d", ErrBroker, off, t.end)
			if !pr.retry(ctx, empty) {
				return false, empty
			}
			continue
		}
		pr.off = max(pr.off, next)
		pr.attempts, pr.backoff = 0, s.r.opts.backoff
		pr.grow = min(pr.grow*2, maxFetchBytes)
		s.report()
	}
}

// fetch issues one Fetch request for the partition to its leader.
func (pr *partitionReader) fetch(ctx context.Context, off int64, maxBytes int32) (*kmsg.FetchResponseTopicPartition, error) {
	t := pr.t
	if t.leader < 0 {
		return nil, kerr.LeaderNotAvailable
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = fetchMaxWaitMs
	req.MinBytes = 1
	req.MaxBytes = maxBytes
	req.SessionEpoch = -1 // no fetch session: every request stands alone
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = t.run.cfg.Name
	rt.TopicID = t.run.meta.id
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = t.partition
	p.FetchOffset = off
	p.CurrentLeaderEpoch = -1
	p.LastFetchedEpoch = -1
	p.LogStartOffset = -1
	p.PartitionMaxBytes = maxBytes
	rt.Partitions = append(rt.Partitions, p)
	req.Topics = append(req.Topics, rt)
	kresp, err := pr.s.cl.Broker(int(t.leader)).Request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].Partition == t.partition {
				return &resp.Topics[i].Partitions[j], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: the fetch response has no data for the partition", ErrBroker)
}

// retry reports whether err is worth another attempt and, if so, waits the
// backoff and refreshes the partition's leader. Authentication and
// authorization errors, cancellation and non-retriable broker errors are
// final; everything else gets a bounded number of attempts.
func (pr *partitionReader) retry(ctx context.Context, err error) bool {
	pr.attempts++
	if pr.attempts >= pr.s.r.opts.attempts || ctx.Err() != nil || errors.Is(err, kgo.ErrClientClosed) {
		return false
	}
	switch categorize(err) {
	case ErrAuthentication, ErrAuthorization:
		return false
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && !ke.Retriable {
		return false
	}
	// Equal jitter (half the backoff fixed, half random): partitions that
	// failed together, because one dropped connection carried all their
	// fetches, do not retry in lockstep and fail together again.
	if upstream.Sleep(ctx, pr.backoff/2+rand.N(pr.backoff/2+1)) != nil {
		return false
	}
	pr.backoff *= 2
	if metas, _, merr := pr.s.r.describeTopics(ctx, []string{pr.t.run.cfg.Name}); merr == nil {
		if tm := metas[pr.t.run.cfg.Name]; tm.err == nil {
			if l, ok := tm.leaders[pr.t.partition]; ok {
				pr.t.leader = l
			}
		}
	}
	return true
}

// handle runs one record through the key check, the prefilter and the
// decoder, keeping the searched traces' records.
func (pr *partitionReader) handle(rec *kgo.Record) {
	run, s := pr.t.run, pr.s
	pre := &run.pre
	pr.rctx.m = s.m
	if run.keyed {
		n, ok := s.m.byKey(rec.Key)
		if !ok || !pr.wants(n) {
			return
		}
		pre, pr.rctx.m = &run.pres[n], s.ones[n]
	}
	if !pre.match(rec.Value) {
		return
	}
	pr.rctx.offset = rec.Offset
	pr.rctx.kafkaTimeNs = rec.Timestamp.UnixNano()
	pr.rctx.resetHits()
	out, err := run.decode(pr.scratch[:0], rec.Value, &pr.rctx)
	if err != nil {
		pr.skipped++
		return
	}
	kept := 0
	for i := range out {
		ids := pr.rctx.recordIDs(i)
		if pr.rctx.m.multi() || len(s.wins) > 1 {
			// The record's traces searched in a window the record is in.
			ids = pr.wanted(ids)
			if len(ids) == 0 {
				continue
			}
			out[i].TraceID = s.m.hexOf(ids[0])
		}
		pr.found = append(pr.found, found{rec: out[i], ids: ids, partition: rec.Partition, offset: rec.Offset, index: i})
		kept++
	}
	s.matched.Add(int64(kept))
	pr.scratch = out[:0]
}

// wants reports whether a range the reader is in searches the ID numbered n.
func (pr *partitionReader) wants(n int32) bool {
	if len(pr.s.wins) == 1 {
		return true // Read, or one group: every ID is searched in every range
	}
	for _, r := range pr.active {
		if r.w.holds(n) {
			return true
		}
	}
	return false
}

// wanted is a new slice of the IDs that the ranges the reader is in search.
func (pr *partitionReader) wanted(ids []int32) []int32 {
	var out []int32
	for _, n := range ids {
		if pr.wants(n) {
			out = append(out, n)
		}
	}
	return out
}

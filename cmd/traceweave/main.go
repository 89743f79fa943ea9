// Command traceweave is Traceweave in a terminal: the same engine as the
// Grafana plugin, for engineers who live in a shell or whose Grafana is the
// thing that is down.
//
//	traceweave timeline [flags] <traceID>   waterfall of spans with their logs
//	traceweave search [flags] <traceql>     the traces a TraceQL search finds, each with its logs
//	traceweave check [flags]                health of every configured source
//
// Exit codes: 0 found / healthy, 1 upstream failure, 2 bad input, 3 trace not found.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/tempo"
)

// Exit codes of the CLI contract.
const (
	exitOK       = 0
	exitUpstream = 1
	exitBadInput = 2
	exitNotFound = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `usage:
  traceweave timeline [flags] <traceID>   print the trace's spans with their logs interleaved
  traceweave search [flags] <traceql>     the traces a TraceQL search finds, a row each with its
                                          log lines per source, first error and slowest tier
  traceweave check [flags]                check every configured source

--verbose prints the engine's debug log lines on stderr (otherwise only the CLI's own messages).

configuration (later wins): --datasource FILE --name NAME (a Grafana provisioning file),
TRACEWEAVE_* environment variables, flags. Secrets only from the provisioning file
(with $VAR expansion), --secrets-file, or TRACEWEAVE_{TEMPO,LOKI}_PASSWORD,
TRACEWEAVE_{TEMPO,LOKI}_BEARER_TOKEN, TRACEWEAVE_KAFKA_PASSWORD.
`

// run is main without the process: testable, returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitBadInput
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("traceweave "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var src configSources
	fs.StringVar(&src.datasourceFile, "datasource", "", "Grafana datasource provisioning YAML holding a Traceweave datasource")
	fs.StringVar(&src.datasourceName, "name", "", "name (or uid) of the Traceweave datasource in --datasource")
	fs.StringVar(&src.secretsFile, "secrets-file", "", "YAML/JSON map of secureJsonData keys (tempoPassword, lokiPassword, kafkaPassword, ...)")
	fs.StringVar(&src.tempoURL, "tempo-url", "", "Tempo URL (env TRACEWEAVE_TEMPO_URL)")
	fs.StringVar(&src.lokiURL, "loki-url", "", "Loki URL (env TRACEWEAVE_LOKI_URL)")
	fs.StringVar(&src.brokers, "kafka-brokers", "", "comma-separated Kafka brokers host:port (env TRACEWEAVE_KAFKA_BROKERS)")
	fs.StringVar(&src.topics, "kafka-topics", "", "comma-separated topics name[:encoding[:keyed[:hasher]]] (env TRACEWEAVE_KAFKA_TOPICS)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	verbose := fs.Bool("verbose", false, "print the engine's debug log lines on stderr")
	var (
		sources  *string
		spanID   *string
		asJSON   *bool
		since    *time.Duration
		noColour *bool
		limit    *int
	)
	if cmd == "timeline" {
		fs.StringVar(&src.windowBefore, "window-before", "", "search logs this long before the trace (default 30s)")
		fs.StringVar(&src.windowAfter, "window-after", "", "search logs this long after the trace, covers export delay (default 2m)")
		sources = fs.String("sources", "", "comma-separated sources to ask: tempo,loki,kafka (default: all configured)")
		spanID = fs.String("span", "", "show only this span's logs")
		asJSON = fs.Bool("json", false, "print the merged model as JSON")
		since = fs.Duration("since", time.Hour, "when the trace is not in Tempo, search logs over this long before now")
		noColour = fs.Bool("no-color", false, "never colour the output")
	} else if cmd == "search" {
		fs.StringVar(&src.windowBefore, "window-before", "", "search each trace's logs this long before it (default 30s)")
		fs.StringVar(&src.windowAfter, "window-after", "", "search each trace's logs this long after it, covers export delay (default 2m)")
		sources = fs.String("sources", "", "comma-separated log sources to ask: loki,kafka (default: all configured; Tempo is always asked)")
		asJSON = fs.Bool("json", false, "print the rows as JSON")
		since = fs.Duration("since", 15*time.Minute, "search traces that started this long before now")
		limit = fs.Int("limit", 0, fmt.Sprintf("traces to return, 1-%d (default: the datasource's search.limit, %d)", models.MaxSearchLimit, models.DefaultSearchLimit))
	} else if cmd != "check" {
		fmt.Fprintf(stderr, "traceweave: unknown command %q\n%s", cmd, usage)
		return exitBadInput
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitBadInput
	}
	setupLogging(*verbose, stderr)
	cfg, err := loadConfig(src, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		return exitBadInput
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	switch cmd {
	case "check":
		return check(ctx, cfg, stdout, stderr)
	case "search":
		return search(ctx, cfg, searchArgs{args: pos, sources: *sources, limit: *limit, since: *since, asJSON: *asJSON}, stdout, stderr)
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "traceweave: timeline wants exactly one trace ID, got %d arguments\n", len(pos))
		return exitBadInput
	}
	raw, _ := json.Marshal(map[string]any{"traceId": pos[0], "spanId": *spanID, "sources": splitList(*sources)})
	q, err := models.ParseQuery(raw, models.QueryTypeTimeline)
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		return exitBadInput
	}
	tty := isTerminal(stderr)
	var opts []kafka.Option
	if tty {
		opts = append(opts, kafka.WithProgress(newProgressPrinter(stderr).update))
	}
	eng, err := engine.New(cfg, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		return exitBadInput
	}
	defer eng.Close()
	now := time.Now()
	out, err := eng.Run(ctx, engine.Request{TraceID: q.TraceID, Sources: q.Sources, From: now.Add(-*since), To: now})
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		switch {
		case errors.Is(err, tempo.ErrTraceNotFound):
			return exitNotFound
		case errors.Is(err, engine.ErrNoSource):
			return exitBadInput
		}
		return exitUpstream
	}
	m := out.Model
	if q.SpanID != "" {
		m = m.ForSpan(q.SpanID)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonOutcome{Model: m, Notices: out.Notices}); err != nil {
			fmt.Fprintf(stderr, "traceweave: %v\n", err)
			return exitUpstream
		}
	} else {
		r := renderer{w: stdout, width: terminalWidth(stdout, getenv), colour: isTerminal(stdout) && !*noColour && getenv("NO_COLOR") == ""}
		r.render(m, out)
	}
	for _, n := range out.Notices {
		fmt.Fprintf(stderr, "%s: %s\n", n.Severity, n.Text)
	}
	if !out.TraceFound && len(m.Logs) == 0 {
		return exitNotFound
	}
	return exitOK
}

// parseInterleaved parses flags wherever they are among the arguments
// (`traceweave search '{ … }' --since 15m`, as the usage shows them) and
// returns the positional arguments; everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// jsonOutcome is the --json document: the merged model and the notices.
type jsonOutcome struct {
	Model   any             `json:"timeline"`
	Notices []engine.Notice `json:"notices"`
}

func check(ctx context.Context, cfg *models.Settings, stdout, stderr io.Writer) int {
	eng, err := engine.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		return exitBadInput
	}
	defer eng.Close()
	code, configured := exitOK, 0
	for _, h := range eng.Health(ctx) {
		fmt.Fprintln(stdout, h.String())
		if h.Configured {
			configured++
			if h.Err != nil {
				code = exitUpstream
			}
		}
	}
	if configured == 0 {
		fmt.Fprintln(stderr, "traceweave: nothing to check: configure a Tempo URL, a Loki URL, or Kafka brokers and topics")
		return exitBadInput
	}
	return code
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// progressPrinter redraws one stderr line while Kafka topics are scanned.
// Partitions report concurrently, hence the mutex.
type progressPrinter struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
}

func newProgressPrinter(w io.Writer) *progressPrinter { return &progressPrinter{w: w} }

func (p *progressPrinter) update(pr kafka.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && pr.PartitionsDone < pr.PartitionsTotal {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r\033[Kkafka: %d records scanned, %d matched, %d/%d partitions done",
		pr.RecordsScanned, pr.RecordsMatched, pr.PartitionsDone, pr.PartitionsTotal)
}

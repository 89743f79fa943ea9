package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/frames"
	"github.com/traceweave/traceweave/pkg/models"
)

// searchArgs are the search command's own arguments and flags.
type searchArgs struct {
	args    []string
	sources string
	limit   int
	since   time.Duration
	asJSON  bool
}

// search runs `traceweave search '<traceql>'`: the engine's search over the
// last --since, printed as the plugin's search frame is (same columns, same
// order: the table is built from frames.Search, so the terminal and the
// panel cannot disagree), or as JSON rows keyed by the frame's field names.
// Exit code 3 when nothing was found.
func search(ctx context.Context, cfg *models.Settings, a searchArgs, stdout, stderr io.Writer) int {
	if len(a.args) != 1 {
		fmt.Fprintf(stderr, "traceweave: search wants exactly one TraceQL query, got %d arguments (quote it: '{ status = error }')\n", len(a.args))
		return exitBadInput
	}
	raw, _ := json.Marshal(map[string]any{"traceql": a.args[0], "limit": a.limit, "sources": splitList(a.sources)})
	q, err := models.ParseQuery(raw, models.QueryTypeSearch)
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		return exitBadInput
	}
	eng, err := engine.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		return exitBadInput
	}
	defer eng.Close()
	now := time.Now()
	out, err := eng.Search(ctx, engine.SearchRequest{TraceQL: q.TraceQL, Limit: q.Limit, Sources: q.Sources, From: now.Add(-a.since), To: now})
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		if errors.Is(err, engine.ErrSearchNeedsTempo) || upstream.StatusOf(err) == 400 {
			return exitBadInput
		}
		return exitUpstream
	}
	f := frames.Search(out.Traces, out.LogSources, frames.Options{})
	if a.asJSON {
		err = writeSearchJSON(stdout, f, out.Notices)
	} else {
		err = writeSearchTable(stdout, f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "traceweave: %v\n", err)
		return exitUpstream
	}
	for _, n := range out.Notices {
		fmt.Fprintf(stderr, "%s: %s\n", n.Severity, n.Text)
	}
	if len(out.Traces) == 0 {
		if !a.asJSON {
			fmt.Fprintln(stderr, "traceweave: no trace matched")
		}
		return exitNotFound
	}
	return exitOK
}

// writeSearchTable prints the frame as aligned columns, a header of the
// field names (with their unit) and a line per row.
func writeSearchTable(w io.Writer, f *data.Frame) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := make([]string, len(f.Fields))
	for i, fl := range f.Fields {
		head[i] = fl.Name
		if fl.Config != nil && fl.Config.Unit == "ms" {
			head[i] += " (ms)"
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	cells := make([]string, len(f.Fields))
	for r := 0; r < f.Rows(); r++ {
		for i, fl := range f.Fields {
			cells[i] = cellText(fl.At(r))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// cellText writes one cell for a terminal: times in UTC to the
// millisecond, milliseconds to the microsecond, empty for null, tabs and
// newlines of a log line's text as spaces so a row stays one line.
func cellText(v any) string {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format("2006-01-02T15:04:05.000Z")
	case *time.Time:
		if v == nil {
			return ""
		}
		return v.UTC().Format("2006-01-02T15:04:05.000Z")
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		if v == "" {
			return "-"
		}
		return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(v)
	}
	return fmt.Sprint(v)
}

// writeSearchJSON prints {"traces": [{field: value, …}], "notices": […]},
// a row per found trace keyed by the search frame's field names.
func writeSearchJSON(w io.Writer, f *data.Frame, notices []engine.Notice) error {
	rows := make([]map[string]any, f.Rows())
	for r := range rows {
		rows[r] = make(map[string]any, len(f.Fields))
		for _, fl := range f.Fields {
			v := fl.At(r)
			if t, ok := v.(*time.Time); ok && t == nil {
				v = nil
			}
			rows[r][fl.Name] = v
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Traces  []map[string]any `json:"traces"`
		Notices []engine.Notice  `json:"notices"`
	}{rows, notices})
}

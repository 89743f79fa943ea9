package kafka

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// TracesResult is what ReadTraces found.
type TracesResult struct {
	// Result has the topics as for Read (errors, Skipped, Scanned, Bytes,
	// Partitions, PartitionsRead, Capped); each TopicResult.Records holds
	// every matched record once, with the first of its traces' IDs.
	Result
	// ByTrace maps a trace ID to its records, in the order Read would
	// return them; a record matching two IDs is under both, each copy with
	// that trace's ID.
	ByTrace map[string][]timeline.LogRecord
}

// ReadTraces searches every configured topic once for the records of all
// trace IDs of groups, each group's IDs within the group's time range
// [StartNs, EndNs) (already padded by the caller, like Window). The logs of
// all the traces a search query found are fetched together
// (docs/DESIGN.md, "Search"): one pass per partition, whose prefilter
// matches any of the IDs; keyed topics are read on the partitions of those
// keys only; the windows' offset ranges of a partition are merged, so each
// record is fetched and examined at most once. For each ID of a group,
// ByTrace holds what Read of that ID over that group's range would return.
// kafka.maxRecords and kafka.maxBytes bound the whole call; the caller's
// context bounds its time.
//
// The IDs must be normalised (models.NormalizeTraceID); one that is not
// makes every topic's Err an invalid-trace-ID error and nothing is fetched.
func (r *Reader) ReadTraces(ctx context.Context, groups []timeline.WindowGroup) *TracesResult {
	res := &TracesResult{Result: *r.newResult(), ByTrace: map[string][]timeline.LogRecord{}}
	defer traceTopics(ctx, &res.Result)()
	if len(res.Topics) == 0 {
		return res
	}
	var ids []string
	number := map[string]int32{}
	var wins []searchWindow
	for _, g := range groups {
		w := searchWindow{win: Window{Start: time.Unix(0, g.StartNs), End: time.Unix(0, g.EndNs)}}
		for _, id := range g.TraceIDs {
			if err := checkNormalTraceID(id); err != nil {
				res.failAll(err)
				return res
			}
			n, ok := number[id]
			if !ok {
				n = int32(len(ids))
				number[id] = n
				ids = append(ids, id)
			}
			if !slices.Contains(w.ids, n) {
				w.ids = append(w.ids, n)
			}
		}
		if len(w.ids) > 0 {
			slices.Sort(w.ids)
			wins = append(wins, w)
		}
	}
	if len(ids) == 0 {
		return res
	}
	m, err := newMultiMatcher(ids)
	if err != nil {
		res.failAll(err)
		return res
	}
	for _, run := range r.search(ctx, r.bulk, m, wins, &res.Result) {
		for _, f := range run.found {
			for _, n := range f.ids {
				rec := f.rec
				rec.TraceID = ids[n]
				res.ByTrace[ids[n]] = append(res.ByTrace[ids[n]], rec)
			}
		}
	}
	return res
}

// checkNormalTraceID accepts a trace ID in the normal form only: the IDs
// of a search come from Tempo through models.NormalizeTraceID, and
// ByTrace is keyed by them as given.
func checkNormalTraceID(id string) error {
	norm, err := models.NormalizeTraceID(id)
	if err != nil {
		return err
	}
	if norm != id {
		return fmt.Errorf("%w: an ID is not in normal form (32 lower-case hex digits, %s)", models.ErrInvalidTraceID, norm)
	}
	return nil
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/loki"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// window pads a trace's extent [lo, hi] (Unix ns) into the log window.
func (e *Engine) window(lo, hi int64) (from, to time.Time) {
	return time.Unix(0, lo).Add(-time.Duration(e.cfg.Window.Before)),
		time.Unix(0, hi).Add(time.Duration(e.cfg.Window.After))
}

// validWindow reports whether [from, to] can be searched.
func validWindow(from, to time.Time) bool {
	return !from.IsZero() && !to.IsZero() && !to.Before(from)
}

// logQueries are the Loki and Kafka queries over one window, running
// concurrently. Their results are read after wait.
type logQueries struct {
	from, to time.Time
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	askedLoki bool
	lokiRes   *loki.Result
	lokiErr   error
	kafkaRes  *kafka.Result
}

// startLogQueries starts the wanted log sources over [from, to]. Their
// context is a child of ctx, so that queries started on a predicted window
// that turned out wrong can be stopped alone.
func (e *Engine) startLogQueries(ctx context.Context, traceID string, want func(string) bool, from, to time.Time, early *earlyLoki) *logQueries {
	qctx, cancel := context.WithCancel(ctx)
	q := &logQueries{from: from, to: to, cancel: cancel}
	if want(models.SourceLoki) {
		q.askedLoki = true
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			q.lokiRes, q.lokiErr = e.queryLoki(qctx, traceID, from.UnixNano(), to.UnixNano(), early)
		}()
	}
	if want(models.SourceKafka) {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			q.kafkaRes = e.readKafka(qctx, func(kctx context.Context) *kafka.Result {
				return e.kafka.Read(kctx, traceID, kafka.Window{Start: from, End: to})
			})
		}()
	}
	return q
}

// readKafka runs read under kafka.timeout, which bounds the whole Kafka
// search of a query, and names that setting in the error of every topic it
// stopped (a cancelled query, ctx done, is not a timeout).
func (e *Engine) readKafka(ctx context.Context, read func(context.Context) *kafka.Result) *kafka.Result {
	kctx, cancel := context.WithTimeout(ctx, time.Duration(e.cfg.Kafka.Timeout))
	defer cancel()
	res := read(kctx)
	for i := range res.Topics {
		if t := &res.Topics[i]; errors.Is(t.Err, context.DeadlineExceeded) && ctx.Err() == nil {
			t.Err = fmt.Errorf("timed out after %s (kafka.timeout); lines found before are shown: %w", time.Duration(e.cfg.Kafka.Timeout), t.Err)
		}
	}
	return res
}

// wait waits for the queries to end.
func (q *logQueries) wait() {
	q.wg.Wait()
	q.cancel()
}

// stop cancels the queries and waits for their goroutines.
func (q *logQueries) stop() {
	q.cancel()
	q.wg.Wait()
}

// lokiOutcome records Loki's status and notices in out and returns its lines.
func (e *Engine) lokiOutcome(out *Outcome, res *loki.Result, err error) []timeline.LogRecord {
	st := SourceStatus{Source: models.SourceLoki}
	if err != nil {
		st.Err = err
		out.Statuses = append(out.Statuses, st)
		out.Notices = append(out.Notices, Notice{NoticeWarning, fmt.Sprintf("Loki failed: %v", err)})
		return nil
	}
	st.Records = len(res.Records)
	out.Statuses = append(out.Statuses, st)
	if res.Truncated {
		out.Notices = append(out.Notices, Notice{NoticeWarning, fmt.Sprintf("Loki: result truncated at %d lines (loki.maxTotalLines)", len(res.Records))})
	}
	// Lines the client could not read (more at one timestamp than Loki
	// returns per query): the user must know some are missing.
	for _, n := range res.Notices {
		out.Notices = append(out.Notices, Notice{NoticeWarning, n})
	}
	return res.Records
}

// kafkaOutcome records each topic's status and notices in out and returns
// the topics' lines, a set per topic.
func kafkaOutcome(out *Outcome, res *kafka.Result) [][]timeline.LogRecord {
	sets := make([][]timeline.LogRecord, 0, len(res.Topics))
	for _, t := range res.Topics {
		src := timeline.KafkaSource(t.Topic)
		out.Statuses = append(out.Statuses, SourceStatus{Source: src, Err: t.Err, Records: len(t.Records)})
		if t.Err != nil {
			out.Notices = append(out.Notices, Notice{NoticeWarning, fmt.Sprintf("Kafka topic %q failed: %v", t.Topic, t.Err)})
		}
		if t.Skipped > 0 {
			out.Notices = append(out.Notices, Notice{NoticeInfo, fmt.Sprintf("Kafka topic %q: %d undecodable records skipped", t.Topic, t.Skipped)})
		}
		if t.Capped {
			out.Notices = append(out.Notices, Notice{NoticeWarning, fmt.Sprintf("Kafka topic %q: scan stopped at the kafka.maxRecords/maxBytes cap; some lines may be missing", t.Topic)})
		}
		sets = append(sets, t.Records)
	}
	return sets
}

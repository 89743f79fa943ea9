package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/traceweave/traceweave/internal/upstream"
)

// Health is what CheckHealth learned: which brokers the cluster advertises
// and, per configured topic, whether it exists and how many partitions it has.
type Health struct {
	// Brokers are the advertised broker addresses (host:port), sorted.
	Brokers []string
	// Topics follows the configuration order.
	Topics []TopicHealth
}

// TopicHealth is the health of one configured topic.
type TopicHealth struct {
	Topic      string
	Partitions int32
	// Err is nil or an *upstream.Error around a *TopicError
	// (ErrTopicNotFound, ErrAuthorization, …).
	Err error
}

// Missing names the configured topics that do not exist.
func (h *Health) Missing() []string {
	var out []string
	for _, t := range h.Topics {
		if errors.Is(t.Err, ErrTopicNotFound) {
			out = append(out, t.Topic)
		}
	}
	return out
}

// Summary is a one-line description for a health-check message, e.g.
// `1 broker; topics: otlp_logs (16 partitions), audit (1 partition)`.
func (h *Health) Summary() string {
	var b strings.Builder
	b.WriteString(plural(len(h.Brokers), "broker"))
	b.WriteString("; topics: ")
	for i, t := range h.Topics {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.Topic)
		if t.Err == nil {
			b.WriteString(" (" + plural(int(t.Partitions), "partition") + ")")
		} else {
			b.WriteString(" (error)")
		}
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// CheckHealth asks the brokers for the configured topics' metadata: the
// brokers are reachable and accept the credentials, every topic exists and
// may be described, and each topic's partitions are counted. The error is
// nil only when all of that holds; it is classified (ErrUnreachable,
// ErrAuthentication, ErrAuthorization, ErrTopicNotFound naming the missing
// topics) so the health check can say what to fix. A Health is returned
// whenever the brokers answered.
func (r *Reader) CheckHealth(ctx context.Context) (*Health, error) {
	names := make([]string, len(r.cfg.Topics))
	for i, t := range r.cfg.Topics {
		names[i] = t.Name
	}
	metas, resp, err := r.describeTopics(ctx, names)
	if err != nil {
		err = r.explain(err)
		kind := categorize(err)
		if errors.Is(kind, ErrAuthentication) {
			err = fmt.Errorf("kafka brokers %s: %w: %s: %w", strings.Join(r.cfg.Brokers, ","), kind, AuthenticationHint, err)
		} else if kind != err {
			err = fmt.Errorf("kafka brokers %s: %w: %w", strings.Join(r.cfg.Brokers, ","), kind, err)
		} else {
			err = fmt.Errorf("kafka brokers %s: %w", strings.Join(r.cfg.Brokers, ","), err)
		}
		return nil, &upstream.Error{Upstream: upstream.Kafka, Kind: sharedKind(kind), Err: err}
	}
	h := &Health{}
	for _, b := range resp.Brokers {
		h.Brokers = append(h.Brokers, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	sort.Strings(h.Brokers)
	var errs []error
	for _, n := range names {
		tm := metas[n]
		th := TopicHealth{Topic: n, Partitions: int32(len(tm.leaders))}
		if tm.err != nil {
			th.Err = topicErr(n, -1, tm.err)
			errs = append(errs, th.Err)
		}
		h.Topics = append(h.Topics, th)
	}
	if missing := h.Missing(); len(missing) > 0 && len(missing) == len(errs) {
		err := fmt.Errorf("%w: kafka topics %s do not exist on the brokers", ErrTopicNotFound, quoteAll(missing))
		if len(missing) == 1 {
			err = fmt.Errorf("%w: kafka topic %s does not exist on the brokers", ErrTopicNotFound, quoteAll(missing))
		}
		return h, &upstream.Error{Upstream: upstream.Kafka, Kind: upstream.ErrNotFound, Err: err}
	}
	return h, errors.Join(errs...)
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

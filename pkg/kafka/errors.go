package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/traceweave/traceweave/internal/upstream"
)

// Named error categories. Every error this package returns wraps exactly one
// of them (or a context error), so the plugin and the CLI can tell the user
// what to fix with errors.Is instead of matching message text. The errors
// are *upstream.Error (the shape the three clients share), whose Kind is
// the shared category of these (see sharedKind).
var (
	// ErrTopicNotFound means a configured topic does not exist on the
	// brokers: a typo in kafka.topics or a topic not created yet.
	ErrTopicNotFound = errors.New("topic not found")
	// ErrAuthorization means the brokers accepted the credentials but the
	// user may not read the topic (or describe the cluster): an ACL to grant.
	ErrAuthorization = errors.New("not authorized")
	// ErrAuthentication means the brokers rejected the SASL credentials or
	// mechanism: the username, the kafkaPassword secret or the mechanism is wrong.
	ErrAuthentication = errors.New("authentication failed")
	// ErrUnreachable means no broker answered: a wrong address, a firewall
	// or a TLS mismatch.
	ErrUnreachable = errors.New("brokers unreachable")
	// ErrBroker wraps any other failure reported by a broker (an error code,
	// a corrupt batch, retries exhausted); the cause is wrapped too.
	ErrBroker = errors.New("broker error")
)

// AuthenticationHint is what a rejected SASL login tells the user to fix,
// in the query's error, its notices and the health check alike. It names
// the settings, never their values.
const AuthenticationHint = "Kafka rejected the SASL login: check kafka.sasl.username, the kafkaPassword secret and kafka.sasl.mechanism"

// categorize maps an error from kgo, kerr or the network to one of the named
// categories. Context errors are returned as they are: a canceled search is
// not an upstream fault.
func categorize(err error) error {
	var netErr net.Error
	var kErr *kerr.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return ErrTopicNotFound
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.TransactionalIDAuthorizationFailed),
		errors.Is(err, kerr.DelegationTokenAuthorizationFailed):
		return ErrAuthorization
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.IllegalSaslState):
		return ErrAuthentication
	case errors.As(err, &kErr):
		return ErrBroker
	case errors.Is(err, kgo.ErrClientClosed):
		return ErrUnreachable
	case errors.As(err, new(*TLSError)):
		// The broker could not be talked to; the TLSError says why.
		return ErrUnreachable
	case errors.As(err, &netErr):
		return ErrUnreachable
	}
	return ErrBroker
}

// TopicError is the error of one topic (and, when the failure was local to
// it, one partition). Its message names the topic in plain words; errors.Is
// matches its category (ErrTopicNotFound, ErrAuthorization, …) and its cause.
type TopicError struct {
	Topic string
	// Partition is the partition that failed, or -1 for the whole topic.
	Partition int32
	// Kind is one of the named categories, or a context error.
	Kind  error
	Cause error
}

// Error says what went wrong with which topic, without secrets: SASL errors
// from kgo carry no credentials and this package never formats them in.
func (e *TopicError) Error() string {
	where := fmt.Sprintf("kafka topic %q", e.Topic)
	if e.Partition >= 0 {
		where += " partition " + strconv.Itoa(int(e.Partition))
	}
	var what string
	switch {
	case errors.Is(e.Kind, ErrTopicNotFound):
		return where + " does not exist on the brokers"
	case errors.Is(e.Kind, ErrAuthorization):
		what = "not authorized to read it (grant Read and Describe on the topic)"
	case errors.Is(e.Kind, ErrAuthentication):
		what = AuthenticationHint
	case errors.Is(e.Kind, ErrUnreachable):
		what = "no broker reachable"
	case errors.Is(e.Kind, context.Canceled):
		what = "search canceled"
	case errors.Is(e.Kind, context.DeadlineExceeded):
		what = "search timed out"
	default:
		what = "broker error"
	}
	if e.Cause != nil && e.Cause != e.Kind {
		what += ": " + e.Cause.Error()
	}
	return where + ": " + what
}

// Unwrap exposes the category and the cause to errors.Is and errors.As.
func (e *TopicError) Unwrap() []error {
	if e.Cause == nil || e.Cause == e.Kind {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// topicErr builds the error of a topic (partition -1) or a partition: an
// *upstream.Error around a *TopicError, categorising cause.
func topicErr(topic string, partition int32, cause error) error {
	var te *TopicError
	if !errors.As(cause, &te) {
		te = &TopicError{Topic: topic, Partition: partition, Kind: categorize(cause), Cause: cause}
	}
	return &upstream.Error{Upstream: upstream.Kafka, Kind: sharedKind(te.Kind), Err: te}
}

// sharedKind is the upstream category of one of this package's categories
// (or a context error), which decides the status of a query failing with it.
func sharedKind(kind error) error {
	switch {
	case errors.Is(kind, ErrTopicNotFound):
		return upstream.ErrNotFound
	case errors.Is(kind, ErrAuthorization):
		return upstream.ErrDenied
	case errors.Is(kind, ErrAuthentication):
		return upstream.ErrAuth
	case errors.Is(kind, ErrUnreachable):
		return upstream.ErrUnreachable
	case errors.Is(kind, context.DeadlineExceeded):
		return upstream.ErrTimeout
	case errors.Is(kind, context.Canceled):
		return upstream.ErrCanceled
	}
	return upstream.ErrBroker
}

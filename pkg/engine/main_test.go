package engine

import (
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"go.uber.org/goleak"
)

// TestMain keeps the output readable (the SDK's HTTP clients log at debug
// level) and fails the package when a test leaves goroutines behind: an
// early Loki query must never outlive its Run.
func TestMain(m *testing.M) {
	log.DefaultLogger = log.NewWithLevel(log.Warn)
	goleak.VerifyTestMain(m)
}

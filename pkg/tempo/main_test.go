package tempo

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: every
// response body is closed and every client releases its connections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

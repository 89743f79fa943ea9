package kafka

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a search leaves goroutines behind (a
// partition worker, a retry timer, a client not closed).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

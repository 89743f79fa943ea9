//go:build unix

package frames

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used so far, in all its
// threads (GC workers included): on a machine shared with other work, the
// CPU a benchmark uses varies much less than its wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

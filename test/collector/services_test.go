package collector

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/traceweave/traceweave/internal/harness"
)

// DemoBinEnv names the directory holding the built demo binaries go-proxy
// and go-api (scripts/collector-test.sh builds them); without it the test
// builds them from demo/ once.
const DemoBinEnv = "TRACEWEAVE_DEMO_BIN"

var (
	buildMu   sync.Mutex
	builtDemo string
	builtPlug string
)

// goBuild runs go build in dir with the given arguments.
func goBuild(dir string, args ...string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %v in %s: %v\n%s", args, dir, err, out.String())
	}
	return nil
}

// demoBinaries returns the directory with go-proxy and go-api.
func demoBinaries(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(DemoBinEnv); d != "" {
		return d
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtDemo == "" {
		dir, err := os.MkdirTemp("", "traceweave-demo-bin-")
		if err != nil {
			t.Fatal(err)
		}
		if err := goBuild(filepath.Join(repoRoot(t), "demo"), "-o", dir+"/", "./cmd/go-proxy", "./cmd/go-api"); err != nil {
			t.Fatal(err)
		}
		builtDemo = dir
	}
	return builtDemo
}

// pluginBinary makes harness.Start run the built plugin: the harness builds
// ./pkg of the module it runs in when TRACEWEAVE_BINARY is unset, and this
// module has no ./pkg, so the test builds the repository's one itself.
func pluginBinary(t *testing.T) {
	t.Helper()
	if os.Getenv(harness.BinaryEnv) != "" {
		return
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtPlug == "" {
		dir, err := os.MkdirTemp("", "traceweave-bin-")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "gpx_traceweave")
		if err := goBuild(repoRoot(t), "-o", p, "./pkg"); err != nil {
			t.Fatal(err)
		}
		builtPlug = p
	}
	t.Setenv(harness.BinaryEnv, builtPlug)
}

// service is a demo service running as a child process.
type service struct {
	name           string
	addr           string
	cmd            *exec.Cmd
	stdout, stderr *logBuffer
	done           chan error
}

// startService runs bin with env (added to the test's environment) and
// waits until GET http://addr/healthz answers, as compose's depends_on
// would have it started.
func startService(t *testing.T, ctx context.Context, bin, addr string, env map[string]string) *service {
	t.Helper()
	s := &service{name: filepath.Base(bin), addr: addr, stdout: &logBuffer{}, stderr: &logBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin)
	s.cmd.Env = os.Environ()
	for k, v := range env {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.name, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	for {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("%s exited while starting: %v\n%s", s.name, err, s.stderr.String())
		case <-ctx.Done():
			t.Fatalf("%s not answering /healthz at %s: %v\n%s", s.name, addr, ctx.Err(), s.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
	}
}

// stop sends SIGTERM, as compose does, and waits: the service flushes its
// OTLP batch processors to the collector before it exits.
func (s *service) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal %s: %v", s.name, err)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("%s exited with %v\n%s", s.name, err, s.stderr.String())
	}
}

// jsonLines returns the JSON log lines the service wrote to stdout (its
// slog JSON handler gets every record its OTLP handler gets).
func (s *service) jsonLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s.stdout.String(), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s stdout line %q: %v", s.name, line, err)
		}
		out = append(out, m)
	}
	return out
}

// auditEvent is one line of rails-api's audit.log, in the field order
// demo/rails-api/app/lib/audit_log.rb writes (JSON.generate keeps it).
type auditEvent struct {
	Time    string `json:"time"`
	Level   string `json:"level"`
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	User    string `json:"user"`
	Action  string `json:"action"`
	Message string `json:"message"`
}

// fakeRails stands in for rails-api (a Ruby app the test cannot run): it
// answers POST /orders as OrdersController#create does (201 with the order)
// and appends the audit line rails-api writes for it to auditPath, with the
// trace and span of the W3C traceparent go-api sent (go-api's client span:
// the stand-in exports no spans of its own).
func fakeRails(t *testing.T, auditPath string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	next := int64(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/orders" {
			http.NotFound(w, r)
			return
		}
		var req struct {
			UserID   int64  `json:"user_id"`
			Item     string `json:"item"`
			Quantity int    `json:"quantity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tp := strings.Split(r.Header.Get("traceparent"), "-")
		if len(tp) != 4 {
			http.Error(w, "no traceparent", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		id := next
		next++
		line, _ := json.Marshal(auditEvent{
			Time: time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00"), Level: "info",
			TraceID: tp[1], SpanID: tp[2], User: fmt.Sprint(req.UserID), Action: "orders.create",
			Message: fmt.Sprintf("created order %d: %d x %s", id, req.Quantity, req.Item),
		})
		f, err := os.OpenFile(auditPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			_, err = f.Write(append(line, '\n'))
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "user_id": req.UserID, "item": req.Item, "quantity": req.Quantity})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// randomHex returns n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

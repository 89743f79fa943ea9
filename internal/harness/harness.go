// Package harness starts the built gpx_traceweave binary the way Grafana
// does — a child process speaking the plugin gRPC protocol after the SDK's
// go-plugin handshake — and calls QueryData and CheckHealth on it. Tests use
// it to check the plugin as shipped, not only its functions.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// BinaryEnv names the environment variable that points at a prebuilt
// binary (CI sets it to dist/gpx_traceweave_linux_amd64 so the tests check
// what the build produced). Without it the harness builds ./pkg once.
const BinaryEnv = "TRACEWEAVE_BINARY"

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// Binary returns the plugin binary to test, building it if needed.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatalf("%s=%q: %v", BinaryEnv, p, err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("%s=%q: %v", BinaryEnv, p, err)
		}
		return abs
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "traceweave-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, fmt.Sprintf("gpx_traceweave_%s_%s", runtime.GOOS, runtime.GOARCH))
		cmd := exec.Command("go", "build", "-o", builtPath, "./pkg")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./pkg: %v\n%s", err, out.String())
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test directory")
		}
		dir = parent
	}
}

// Plugin is a running plugin process.
type Plugin struct {
	client *goplugin.Client
	data   grpcplugin.DataClient
	diag   grpcplugin.DiagnosticsClient
	// Logs receives everything the plugin wrote to stderr (its log lines).
	logs *syncBuffer
}

// Start launches the binary and completes the handshake. The process is
// killed when the test ends.
func Start(t testing.TB) *Plugin {
	t.Helper()
	return StartPath(t, Binary(t))
}

// StartPath is Start with the binary at path (benchmarks copy the binary to
// tell several plugin processes apart by their executable).
func StartPath(t testing.TB, path string) *Plugin {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), "GF_PLUGIN_LOG_LEVEL=debug")
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
			},
		},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "gpx_traceweave", Output: logs, Level: hclog.Debug,
		}),
		Stderr:       logs,
		StartTimeout: 30 * time.Second,
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start plugin: %v\n%s", err, logs.String())
	}
	raw, err := rpc.Dispense("data")
	if err != nil {
		t.Fatalf("dispense data: %v", err)
	}
	rawDiag, err := rpc.Dispense("diagnostics")
	if err != nil {
		t.Fatalf("dispense diagnostics: %v", err)
	}
	return &Plugin{client: client, data: raw.(grpcplugin.DataClient), diag: rawDiag.(grpcplugin.DiagnosticsClient), logs: logs}
}

// Logs returns what the plugin has logged so far.
func (p *Plugin) Logs() string { return p.logs.String() }

// Settings is a datasource configuration as Grafana stores it.
type Settings struct {
	UID  string
	Name string
	// JSONData is marshalled to JSON unless it already is []byte or string.
	JSONData any
	Secure   map[string]string
	// Updated changes the instance cache key; a new value makes the plugin rebuild its instance.
	Updated time.Time
}

func (s Settings) pluginContext() (backend.PluginContext, error) {
	var raw []byte
	switch v := s.JSONData.(type) {
	case nil:
		raw = []byte("{}")
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return backend.PluginContext{}, err
		}
		raw = b
	}
	uid := s.UID
	if uid == "" {
		uid = "traceweave-test"
	}
	updated := s.Updated
	if updated.IsZero() {
		updated = time.Unix(1, 0)
	}
	return backend.PluginContext{
		OrgID:    1,
		PluginID: "traceweave-timeline-datasource",
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 1, UID: uid, Name: s.Name, Type: "traceweave-timeline-datasource",
			JSONData: raw, DecryptedSecureJSONData: s.Secure, Updated: updated,
		},
	}, nil
}

// QueryData sends queries with the given settings and decodes the Arrow
// frames of the answer.
func (p *Plugin) QueryData(ctx context.Context, s Settings, queries ...backend.DataQuery) (*backend.QueryDataResponse, error) {
	resp, err := p.QueryDataProto(ctx, s, queries...)
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(resp)
}

// QueryDataProto is QueryData without decoding the answer: the frames stay
// Arrow bytes, as Grafana receives them (benchmarks time the call apart
// from the decode).
func (p *Plugin) QueryDataProto(ctx context.Context, s Settings, queries ...backend.DataQuery) (*pluginv2.QueryDataResponse, error) {
	pc, err := s.pluginContext()
	if err != nil {
		return nil, err
	}
	req := &backend.QueryDataRequest{PluginContext: pc, Queries: queries}
	return p.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
}

// CheckHealth calls the plugin's health check with the given settings.
func (p *Plugin) CheckHealth(ctx context.Context, s Settings) (*backend.CheckHealthResult, error) {
	pc, err := s.pluginContext()
	if err != nil {
		return nil, err
	}
	resp, err := p.diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(pc)})
	if err != nil {
		return nil, err
	}
	return backend.FromProto().CheckHealthResponse(resp), nil
}

// Query builds a DataQuery from a query model (marshalled to JSON).
func Query(refID string, model map[string]any, from, to time.Time) backend.DataQuery {
	model["refId"] = refID
	b, _ := json.Marshal(model)
	qt, _ := model["queryType"].(string)
	return backend.DataQuery{RefID: refID, QueryType: qt, JSON: b, TimeRange: backend.TimeRange{From: from, To: to}}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)

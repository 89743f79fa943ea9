package collector

import (
	"context"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"gopkg.in/yaml.v3"
)

// compose is the part of docker-compose.yaml these tests read.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Environment map[string]string `yaml:"environment"`
		Command     any               `yaml:"command"`
	} `yaml:"services"`
}

func loadCompose(t testing.TB) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	return c
}

// TestDeployConfigValidates loads deploy/otel-collector.yaml, as the compose
// stack does (no OTELCOL_* variable set), into the real collector and
// validates it: every component type name must be one the v0.165 factories
// accept, every option one they know, every pipeline well formed.
func TestDeployConfigValidates(t *testing.T) {
	unsetEnv(t, slices.Sorted(maps.Keys(envVars))...)
	logs := &logBuffer{}
	col := newCollector(t, logs, deployConfig(t))
	if err := col.DryRun(context.Background()); err != nil {
		t.Fatalf("the collector rejects deploy/otel-collector.yaml: %v\n%s", err, logs.String())
	}
}

// TestDeployConfigRejectsUnknownOption is the check above failing for a
// broken copy: an option kafkaexporter does not have.
func TestDeployConfigRejectsUnknownOption(t *testing.T) {
	unsetEnv(t, slices.Sorted(maps.Keys(envVars))...)
	b, err := os.ReadFile(deployConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "    partition_logs_by_trace_id: true\n", "    partition_logs_by_traceid: true\n", 1)
	if broken == string(b) {
		t.Fatal("deploy/otel-collector.yaml no longer sets partition_logs_by_trace_id: true")
	}
	col := newCollector(t, &logBuffer{}, writeFile(t, "broken.yaml", broken))
	err = col.DryRun(context.Background())
	if err == nil || !strings.Contains(err.Error(), "partition_logs_by_traceid") {
		t.Fatalf("DryRun = %v, want an error naming partition_logs_by_traceid", err)
	}
}

// resolveDeploy resolves deploy/otel-collector.yaml (env expanded) to a map.
func resolveDeploy(t *testing.T) map[string]any {
	t.Helper()
	r, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs:              []string{"file:" + deployConfig(t)},
		ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory()},
		DefaultScheme:     "env",
	})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return conf.ToStringMap()
}

// at returns the value at a "::"-separated path of a resolved config.
func at(t *testing.T, m map[string]any, path string) any {
	t.Helper()
	var v any = m
	for _, k := range strings.Split(path, "::") {
		mm, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not a map", path, k)
		}
		v, ok = mm[k]
		if !ok {
			t.Fatalf("%s: no key %q", path, k)
		}
	}
	return v
}

// TestDeployConfigDefaultsAreTheComposeStack resolves the config with no
// OTELCOL_* variable set and wants the compose stack's addresses and paths:
// the exporters reach services of docker-compose.yaml, the OTLP receiver
// listens on the port the demo services export to, and the file_log
// receivers tail the files go-api and rails-api write.
func TestDeployConfigDefaultsAreTheComposeStack(t *testing.T) {
	unsetEnv(t, slices.Sorted(maps.Keys(envVars))...)
	m := resolveDeploy(t)
	c := loadCompose(t)

	want := map[string]string{
		"receivers::otlp::protocols::grpc::endpoint": envVars["OTELCOL_OTLP_GRPC_ENDPOINT"],
		"receivers::otlp::protocols::http::endpoint": envVars["OTELCOL_OTLP_HTTP_ENDPOINT"],
		"extensions::health_check::endpoint":         envVars["OTELCOL_HEALTH_ENDPOINT"],
		"exporters::otlp_grpc/tempo::endpoint":       envVars["OTELCOL_TEMPO_ENDPOINT"],
		"exporters::otlp_http/loki::endpoint":        envVars["OTELCOL_LOKI_ENDPOINT"],
		"exporters::kafka/otlp_logs::brokers":        envVars["OTELCOL_KAFKA_BROKERS"],
		"exporters::kafka/files::brokers":            envVars["OTELCOL_KAFKA_BROKERS"],
	}
	for path, w := range want {
		if got := at(t, m, path); got != w {
			t.Errorf("%s = %v, want %q", path, got, w)
		}
	}
	for path, wantInclude := range map[string]string{
		"receivers::file_log/audit::include":  c.Services["rails-api"].Environment["AUDIT_LOG"],
		"receivers::file_log/syslog::include": c.Services["go-api"].Environment["SYSLOG_FILE"],
	} {
		got, _ := at(t, m, path).([]any)
		if len(got) != 1 || got[0] != wantInclude || wantInclude == "" {
			t.Errorf("%s = %v, want [%s] (the file the compose service writes)", path, got, wantInclude)
		}
	}

	// Hosts the exporters reach must be compose services.
	hosts := map[string]string{
		"tempo": envVars["OTELCOL_TEMPO_ENDPOINT"],
		"loki":  envVars["OTELCOL_LOKI_ENDPOINT"],
		"kafka": envVars["OTELCOL_KAFKA_BROKERS"],
	}
	for name, addr := range hosts {
		hostport := addr
		if u, err := url.Parse(addr); err == nil && u.Host != "" {
			hostport = u.Host
		}
		h, _, err := net.SplitHostPort(hostport)
		if err != nil {
			t.Errorf("%s address %q: %v", name, addr, err)
			continue
		}
		if _, ok := c.Services[h]; !ok {
			t.Errorf("%s address %q: host %q is not a service of docker-compose.yaml", name, addr, h)
		}
	}

	// The demo services export OTLP/HTTP to the collector's HTTP port.
	_, httpPort, _ := net.SplitHostPort(envVars["OTELCOL_OTLP_HTTP_ENDPOINT"])
	for _, svc := range []string{"go-proxy", "go-api", "rails-api", "loadgen"} {
		ep := c.Services[svc].Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
		if ep != "http://otel-collector:"+httpPort {
			t.Errorf("compose service %s exports to %q, want http://otel-collector:%s", svc, ep, httpPort)
		}
	}
}

// envRefRE finds the collector's ${env:NAME} and ${env:NAME:-default}.
var envRefRE = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// TestDeployConfigEnvReferences wants every variable the config reads to be
// one of envVars (documented in docs/COLLECTOR.md and deploy/README.md), with
// its default, and no address or log path left without a variable.
func TestDeployConfigEnvReferences(t *testing.T) {
	b, err := os.ReadFile(deployConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var code strings.Builder // the config without its comment lines
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			code.WriteString(line + "\n")
		}
	}
	seen := map[string]bool{}
	for _, m := range envRefRE.FindAllStringSubmatch(code.String(), -1) {
		name, def := m[1], m[2]
		want, ok := envVars[name]
		if !ok {
			t.Errorf("deploy/otel-collector.yaml reads %s, which envVars does not list", name)
			continue
		}
		if def != want {
			t.Errorf("%s defaults to %q, want %q", name, def, want)
		}
		seen[name] = true
	}
	var missing []string
	for n := range envVars {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("deploy/otel-collector.yaml no longer reads %v", missing)
	}
}

// TestComposeImageMatchesModule wants the compose stack to run the collector
// release this module is built from, so what the end-to-end test checks is
// what the stack runs.
func TestComposeImageMatchesModule(t *testing.T) {
	c := loadCompose(t)
	img := c.Services["otel-collector"].Image
	if want := "otel/opentelemetry-collector-contrib:" + collectorRelease; img != want {
		t.Errorf("docker-compose.yaml otel-collector image %q, want %q", img, want)
	}
	// The module's own go.mod: a test binary's build info lists no dependencies.
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"go.opentelemetry.io/collector/otelcol":                                              "v" + collectorRelease,
		"go.opentelemetry.io/collector/receiver/otlpreceiver":                                "v" + collectorRelease,
		"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/kafkaexporter":   "v" + strings.TrimSuffix(collectorRelease, ".0") + ".",
		"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver": "v" + strings.TrimSuffix(collectorRelease, ".0") + ".",
	}
	found := map[string]string{}
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			found[f[0]] = f[1]
		}
	}
	for path, prefix := range want {
		if v := found[path]; !strings.HasPrefix(v, prefix) {
			t.Errorf("%s is %q, want the %s release (%s...)", path, v, collectorRelease, prefix)
		}
	}
}

// Package stack checks the demo stack statically, because CI has no Docker
// engine: docker-compose.yaml, the collector config under deploy/, and the
// Grafana provisioning under provisioning/ must agree with each other and with
// the plugin's own settings and query parsers (pkg/models).
package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/traceweave/traceweave/pkg/models"
)

const (
	composePath     = "docker-compose.yaml"
	collectorPath   = "deploy/otel-collector.yaml"
	datasourcesPath = "provisioning/datasources/datasources.yaml"
	dashboardsPath  = "provisioning/dashboards/dashboards.yaml"
	dashboardPath   = "provisioning/dashboards/incident-investigation.json"

	pluginType    = "traceweave-timeline-datasource"
	traceweaveUID = "traceweave"
	dashboardUID  = "incident-investigation"
	initService   = "kafka-init"

	// sampleTraceID stands in for the dashboard's ${traceId} variable when a
	// panel target is run through the plugin's query parser.
	sampleTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
)

// ---------------------------------------------------------------- loading

// stack is every file the checks read, parsed. Each test loads its own copy,
// so a negative test can break it in memory without touching the repo.
type stack struct {
	root        string
	compose     composeFile
	collector   collectorConfig
	datasources provisioningFile
	dsRaw       []byte
	dashboard   map[string]any
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string        `yaml:"image"`
	Build       any           `yaml:"build"`
	Ports       []string      `yaml:"ports"`
	Volumes     []string      `yaml:"volumes"`
	Environment envVars       `yaml:"environment"`
	DependsOn   dependsOn     `yaml:"depends_on"`
	Entrypoint  stringOrSlice `yaml:"entrypoint"`
	Command     stringOrSlice `yaml:"command"`
}

// envVars accepts both Compose forms: a map, or a list of KEY=VALUE.
type envVars map[string]string

func (e *envVars) UnmarshalYAML(n *yaml.Node) error {
	out := envVars{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			out[k] = v
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment must be a map or a list", n.Line)
	}
	*e = out
	return nil
}

// dependsOn accepts both Compose forms and keeps the condition per service.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	out := dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			out[s] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for s, c := range m {
			out[s] = c.Condition
		}
	default:
		return fmt.Errorf("line %d: depends_on must be a list or a map", n.Line)
	}
	*d = out
	return nil
}

// stringOrSlice accepts a command written as one string or as a list.
type stringOrSlice []string

func (s *stringOrSlice) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = []string{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

type collectorConfig struct {
	Receivers  map[string]map[string]any `yaml:"receivers"`
	Processors map[string]map[string]any `yaml:"processors"`
	Exporters  map[string]map[string]any `yaml:"exporters"`
	Extensions map[string]map[string]any `yaml:"extensions"`
	Service    struct {
		Extensions []string                     `yaml:"extensions"`
		Pipelines  map[string]collectorPipeline `yaml:"pipelines"`
	} `yaml:"service"`
}

type collectorPipeline struct {
	Receivers  []string `yaml:"receivers"`
	Processors []string `yaml:"processors"`
	Exporters  []string `yaml:"exporters"`
}

type provisioningFile struct {
	APIVersion  int                     `yaml:"apiVersion"`
	Datasources []provisionedDatasource `yaml:"datasources"`
}

type provisionedDatasource struct {
	Name         string           `yaml:"name"`
	UID          string           `yaml:"uid"`
	Type         string           `yaml:"type"`
	URL          string           `yaml:"url"`
	JSONData     map[string]any   `yaml:"jsonData"`
	Correlations []map[string]any `yaml:"correlations"`
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repo root %s has no go.mod: %v", root, err)
	}
	return root
}

func loadStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{root: repoRoot(t)}
	read := func(rel string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(s.root, rel))
		if err != nil {
			t.Fatalf("read %s: %v", rel, err)
		}
		return b
	}
	strict := func(rel string, v any) {
		t.Helper()
		dec := yaml.NewDecoder(bytes.NewReader(read(rel)))
		if err := dec.Decode(v); err != nil {
			t.Fatalf("parse %s: %v", rel, err)
		}
	}
	strict(composePath, &s.compose)
	strict(collectorPath, &s.collector)
	s.dsRaw = read(datasourcesPath)
	strict(datasourcesPath, &s.datasources)
	if err := json.Unmarshal(read(dashboardPath), &s.dashboard); err != nil {
		t.Fatalf("parse %s: %v", dashboardPath, err)
	}
	return s
}

// ----------------------------------------------------------------- checks
//
// Each check returns the problems it found, so tests can assert both that the
// repo is clean and that a broken copy is caught.

var digestRE = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// checkImagesPinned wants an exact tag (not latest) or a digest on every
// image; services with only a build section are exempt.
func checkImagesPinned(c composeFile) []string {
	var probs []string
	for _, name := range sortedKeys(c.Services) {
		svc := c.Services[name]
		if svc.Image == "" {
			if svc.Build == nil {
				probs = append(probs, fmt.Sprintf("service %s: neither image nor build", name))
			}
			continue
		}
		if digestRE.MatchString(svc.Image) {
			continue
		}
		ref := svc.Image[strings.LastIndex(svc.Image, "/")+1:]
		_, tag, ok := strings.Cut(ref, ":")
		switch {
		case !ok || tag == "":
			probs = append(probs, fmt.Sprintf("service %s: image %q has no tag", name, svc.Image))
		case tag == "latest" || strings.Contains(tag, "$"):
			probs = append(probs, fmt.Sprintf("service %s: image %q is not pinned to an exact version", name, svc.Image))
		}
	}
	return probs
}

// bindSource returns the host side of a short-syntax volume when it is a
// bind mount (a path), not a named volume.
func bindSource(vol string) (string, bool) {
	src, _, ok := strings.Cut(vol, ":")
	if !ok {
		return "", false
	}
	if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") || strings.HasPrefix(src, "~") {
		return src, true
	}
	return "", false
}

// checkBindMounts wants every bind-mounted host path to exist in the repo
// (relative to the root) and every named volume to be declared. There is no
// exemption for build outputs: the grafana image builds the plugin itself, so
// a fresh checkout runs as is (the ./dist mount lives in deploy/compose.dist.yaml).
func checkBindMounts(c composeFile, root string) []string {
	var probs []string
	for _, name := range sortedKeys(c.Services) {
		svc := c.Services[name]
		for _, vol := range svc.Volumes {
			src, bind := bindSource(vol)
			if !bind {
				named, _, _ := strings.Cut(vol, ":")
				if _, ok := c.Volumes[named]; !ok {
					probs = append(probs, fmt.Sprintf("service %s: named volume %q is not declared under volumes", name, named))
				}
				continue
			}
			if filepath.IsAbs(src) || strings.HasPrefix(src, "~") {
				probs = append(probs, fmt.Sprintf("service %s: bind mount %s is outside the repo", name, src))
				continue
			}
			if _, err := os.Stat(filepath.Join(root, src)); err != nil {
				probs = append(probs, fmt.Sprintf("service %s: bind-mounted path %s does not exist in the repo", name, src))
			}
		}
	}
	return probs
}

// checkBuildContexts wants every build context directory and its Dockerfile
// to exist, so `docker compose up --build` can build each demo service.
func checkBuildContexts(c composeFile, root string) []string {
	var probs []string
	for _, name := range sortedKeys(c.Services) {
		var ctx, dockerfile string
		switch b := c.Services[name].Build.(type) {
		case nil:
			continue
		case string:
			ctx = b
		case map[string]any:
			ctx, _ = b["context"].(string)
			dockerfile, _ = b["dockerfile"].(string)
		}
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		if ctx == "" {
			probs = append(probs, fmt.Sprintf("service %s: build has no context", name))
			continue
		}
		for _, p := range []string{ctx, filepath.Join(ctx, dockerfile)} {
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				probs = append(probs, fmt.Sprintf("service %s: build path %s does not exist in the repo", name, p))
			}
		}
	}
	return probs
}

// checkPorts wants every published host port used once.
func checkPorts(c composeFile) []string {
	var probs []string
	seen := map[string]string{}
	for _, name := range sortedKeys(c.Services) {
		for _, p := range c.Services[name].Ports {
			p, _, _ = strings.Cut(p, "/") // protocol suffix
			parts := strings.Split(p, ":")
			if len(parts) < 2 {
				continue // container port only: Docker picks a free host port
			}
			host := strings.Join(parts[:len(parts)-1], ":")
			if prev, dup := seen[host]; dup {
				probs = append(probs, fmt.Sprintf("host port %s published by both %s and %s", host, prev, name))
			}
			seen[host] = name
		}
	}
	return probs
}

var (
	urlHostRE = regexp.MustCompile(`[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?([A-Za-z0-9_.-]+)`)
	tcpHostRE = regexp.MustCompile(`tcp\(([A-Za-z0-9_.-]+):\d+\)`)
	hostPort  = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_.-]*):\d+$`)
)

// hostsIn returns the host names a config value refers to: URL hosts, Go
// MySQL DSN tcp(host:port) and bare host:port values.
func hostsIn(v string) []string {
	var out []string
	for _, m := range urlHostRE.FindAllStringSubmatch(v, -1) {
		out = append(out, m[1])
	}
	for _, m := range tcpHostRE.FindAllStringSubmatch(v, -1) {
		out = append(out, m[1])
	}
	if m := hostPort.FindStringSubmatch(strings.TrimSpace(v)); m != nil {
		out = append(out, m[1])
	}
	return out
}

// checkHost reports a host that is not a compose service (IPs and localhost
// are fine: they never name another container).
func checkHost(c composeFile, where, host string) []string {
	if host == "localhost" || net.ParseIP(host) != nil {
		return nil
	}
	if _, ok := c.Services[host]; !ok {
		return []string{fmt.Sprintf("%s refers to host %q, which is not a service in %s", where, host, composePath)}
	}
	return nil
}

// checkServiceRefs wants every depends_on target and every host named in an
// environment value to be a service.
func checkServiceRefs(c composeFile) []string {
	var probs []string
	for _, name := range sortedKeys(c.Services) {
		svc := c.Services[name]
		for _, dep := range sortedKeys(svc.DependsOn) {
			if _, ok := c.Services[dep]; !ok {
				probs = append(probs, fmt.Sprintf("service %s depends_on %q, which is not a service", name, dep))
			}
			switch svc.DependsOn[dep] {
			case "service_started", "service_healthy", "service_completed_successfully":
			default:
				probs = append(probs, fmt.Sprintf("service %s depends_on %s with unknown condition %q", name, dep, svc.DependsOn[dep]))
			}
		}
		for _, k := range sortedKeys(svc.Environment) {
			for _, h := range hostsIn(svc.Environment[k]) {
				probs = append(probs, checkHost(c, fmt.Sprintf("service %s env %s", name, k), h)...)
			}
		}
	}
	return probs
}

// checkPipelines wants every component a pipeline names to be defined, every
// defined component to be used, and pipeline types the collector knows.
func checkPipelines(cfg collectorConfig) []string {
	var probs []string
	if len(cfg.Service.Pipelines) == 0 {
		return []string{"collector: no pipelines"}
	}
	used := map[string]bool{}
	for _, p := range sortedKeys(cfg.Service.Pipelines) {
		kind, _, _ := strings.Cut(p, "/")
		if !slices.Contains([]string{"traces", "metrics", "logs", "profiles"}, kind) {
			probs = append(probs, fmt.Sprintf("collector pipeline %s: unknown signal %q", p, kind))
		}
		pl := cfg.Service.Pipelines[p]
		if len(pl.Receivers) == 0 || len(pl.Exporters) == 0 {
			probs = append(probs, fmt.Sprintf("collector pipeline %s needs at least one receiver and one exporter", p))
		}
		for _, sec := range []struct {
			kind  string
			names []string
			defs  map[string]map[string]any
		}{{"receiver", pl.Receivers, cfg.Receivers}, {"processor", pl.Processors, cfg.Processors}, {"exporter", pl.Exporters, cfg.Exporters}} {
			for _, n := range sec.names {
				used[sec.kind+" "+n] = true
				if _, ok := sec.defs[n]; !ok {
					probs = append(probs, fmt.Sprintf("collector pipeline %s uses %s %q, which is not defined", p, sec.kind, n))
				}
			}
		}
	}
	for _, e := range cfg.Service.Extensions {
		if _, ok := cfg.Extensions[e]; !ok {
			probs = append(probs, fmt.Sprintf("collector service uses extension %q, which is not defined", e))
		}
	}
	for _, sec := range []struct {
		kind string
		defs map[string]map[string]any
	}{{"receiver", cfg.Receivers}, {"processor", cfg.Processors}, {"exporter", cfg.Exporters}} {
		for _, n := range sortedKeys(sec.defs) {
			if !used[sec.kind+" "+n] {
				probs = append(probs, fmt.Sprintf("collector %s %q is defined but no pipeline uses it", sec.kind, n))
			}
		}
	}
	return probs
}

// componentType is the part of a component ID before the slash.
func componentType(id string) string {
	t, _, _ := strings.Cut(id, "/")
	return t
}

// kafkaTopicOut is what the collector writes to one Kafka topic.
type kafkaTopicOut struct {
	Encoding       string
	KeyedByTraceID bool
	Exporter       string
}

// collectorKafkaTopics derives, from the collector config, every topic a kafka
// exporter writes: logs::topic for a fixed topic, or, with
// topic_from_attribute, the values the receivers feeding it set on that
// resource attribute.
func collectorKafkaTopics(cfg collectorConfig) (map[string]kafkaTopicOut, []string) {
	out := map[string]kafkaTopicOut{}
	var probs []string
	add := func(topic string, o kafkaTopicOut) {
		if prev, dup := out[topic]; dup && prev != o {
			probs = append(probs, fmt.Sprintf("collector: topic %s written by %s and %s with different settings", topic, prev.Exporter, o.Exporter))
		}
		out[topic] = o
	}
	for _, id := range sortedKeys(cfg.Exporters) {
		if componentType(id) != "kafka" {
			continue
		}
		exp := cfg.Exporters[id]
		// Deprecated since contrib v0.124.0: the signal sections replace them.
		for _, k := range []string{"topic", "encoding"} {
			if _, ok := exp[k]; ok {
				probs = append(probs, fmt.Sprintf("collector exporter %s: top-level %q is deprecated, use logs::%s", id, k, k))
			}
		}
		logs, _ := exp["logs"].(map[string]any)
		encoding, _ := logs["encoding"].(string)
		if encoding == "" {
			encoding = models.EncodingOTLPProto
		}
		keyed, _ := exp["partition_logs_by_trace_id"].(bool)
		o := kafkaTopicOut{Encoding: encoding, KeyedByTraceID: keyed, Exporter: id}
		attr, _ := exp["topic_from_attribute"].(string)
		if attr == "" {
			topic, _ := logs["topic"].(string)
			if topic == "" {
				topic = "otlp_logs" // kafkaexporter's default logs topic
			}
			add(topic, o)
			continue
		}
		found := false
		for _, p := range sortedKeys(cfg.Service.Pipelines) {
			pl := cfg.Service.Pipelines[p]
			if !slices.Contains(pl.Exporters, id) {
				continue
			}
			for _, r := range pl.Receivers {
				res, _ := cfg.Receivers[r]["resource"].(map[string]any)
				topic, _ := res[attr].(string)
				if topic == "" {
					probs = append(probs, fmt.Sprintf("collector receiver %s feeds %s but sets no resource attribute %s", r, id, attr))
					continue
				}
				found = true
				add(topic, o)
			}
		}
		if !found {
			probs = append(probs, fmt.Sprintf("collector exporter %s routes by %s but no receiver sets it", id, attr))
		}
	}
	return out, probs
}

var createTopicRE = regexp.MustCompile(`--create\b[^\n]*?--topic\s+(\S+)[^\n]*?--partitions\s+(\d+)`)

// initTopics reads the topics and partition counts the one-shot init service creates.
func initTopics(c composeFile) (map[string]int, []string) {
	svc, ok := c.Services[initService]
	if !ok {
		return nil, []string{fmt.Sprintf("no %s service", initService)}
	}
	script := strings.Join(append(slices.Clone(svc.Entrypoint), svc.Command...), "\n")
	out := map[string]int{}
	for _, m := range createTopicRE.FindAllStringSubmatch(script, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	if len(out) == 0 {
		return nil, []string{fmt.Sprintf("%s creates no topic (expected kafka-topics.sh --create --topic T --partitions N)", initService)}
	}
	return out, nil
}

// traceweaveSettings runs the provisioned Traceweave jsonData through the
// plugin's own LoadSettings (decode, defaults, Validate).
func traceweaveSettings(p provisioningFile) (*models.Settings, error) {
	for _, ds := range p.Datasources {
		if ds.Type != pluginType {
			continue
		}
		raw, err := json.Marshal(ds.JSONData)
		if err != nil {
			return nil, err
		}
		return models.LoadSettings(raw, nil)
	}
	return nil, fmt.Errorf("no datasource of type %s in %s", pluginType, datasourcesPath)
}

// checkTopicsAgree wants the collector, the init step and Traceweave to name
// the same topics, with matching encodings and keying, and otlp_logs to have
// 16 partitions.
func checkTopicsAgree(s *stack) []string {
	coll, probs := collectorKafkaTopics(s.collector)
	created, p := initTopics(s.compose)
	probs = append(probs, p...)
	settings, err := traceweaveSettings(s.datasources)
	if err != nil {
		return append(probs, fmt.Sprintf("Traceweave settings: %v", err))
	}
	tw := map[string]models.KafkaTopic{}
	for _, t := range settings.Kafka.Topics {
		tw[t.Name] = t
	}
	names := func(m any) string {
		switch m := m.(type) {
		case map[string]kafkaTopicOut:
			return strings.Join(sortedKeys(m), ",")
		case map[string]int:
			return strings.Join(sortedKeys(m), ",")
		case map[string]models.KafkaTopic:
			return strings.Join(sortedKeys(m), ",")
		}
		return ""
	}
	if a, b, c := names(coll), names(created), names(tw); a != b || b != c {
		probs = append(probs, fmt.Sprintf("Kafka topics disagree: collector writes [%s], %s creates [%s], Traceweave reads [%s]", a, initService, b, c))
	}
	if n, ok := created["otlp_logs"]; ok && n != 16 {
		probs = append(probs, fmt.Sprintf("%s creates otlp_logs with %d partitions, want 16", initService, n))
	}
	for _, name := range sortedKeys(coll) {
		out, t := coll[name], tw[name]
		if t.Name == "" {
			continue // reported above
		}
		var compatible bool
		switch out.Encoding {
		case models.EncodingOTLPProto, models.EncodingOTLPJSON:
			compatible = t.Encoding == out.Encoding
		case models.EncodingRaw:
			// raw writes a map body as a JSON object and a string body JSON-quoted.
			compatible = t.Encoding == models.EncodingRaw || t.Encoding == models.EncodingJSON
		}
		if !compatible {
			probs = append(probs, fmt.Sprintf("topic %s: collector exporter %s writes encoding %s, Traceweave reads %s", name, out.Exporter, out.Encoding, t.Encoding))
		}
		if out.KeyedByTraceID != t.KeyedByTraceID {
			probs = append(probs, fmt.Sprintf("topic %s: collector partition_logs_by_trace_id=%t, Traceweave keyedByTraceId=%t", name, out.KeyedByTraceID, t.KeyedByTraceID))
		}
		if t.KeyedByTraceID && t.Hasher != models.HasherSaramaCompat {
			probs = append(probs, fmt.Sprintf("topic %s: the collector uses the default sarama_compat hasher, Traceweave is set to %s", name, t.Hasher))
		}
	}
	return probs
}

// provisionedUIDs returns the uid of every provisioned datasource.
func provisionedUIDs(p provisioningFile) map[string]string {
	out := map[string]string{}
	for _, ds := range p.Datasources {
		out[ds.UID] = ds.Type
	}
	return out
}

// unescapedVarRE finds ${...} not written as $${...}: Grafana expands
// environment variables in provisioning files, so a literal template variable
// must be escaped.
var unescapedVarRE = regexp.MustCompile(`(^|[^$])\$\{`)

// checkProvisioning wants unique uids, the three fixed uids, every uid a
// setting or link names to be provisioned, and escaped template variables.
func checkProvisioning(s *stack) []string {
	var probs []string
	seen := map[string]bool{}
	for _, ds := range s.datasources.Datasources {
		if ds.UID == "" {
			probs = append(probs, fmt.Sprintf("datasource %q has no uid", ds.Name))
		}
		if seen[ds.UID] {
			probs = append(probs, fmt.Sprintf("datasource uid %q provisioned twice", ds.UID))
		}
		seen[ds.UID] = true
	}
	uids := provisionedUIDs(s.datasources)
	for uid, typ := range map[string]string{"tempo": "tempo", "loki": "loki", traceweaveUID: pluginType} {
		if uids[uid] != typ {
			probs = append(probs, fmt.Sprintf("want datasource uid %s of type %s, got type %q", uid, typ, uids[uid]))
		}
	}
	for i, line := range strings.Split(string(s.dsRaw), "\n") {
		// Grafana interpolates values, not comments: only the YAML before a comment counts.
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line, _, _ = strings.Cut(line, " #")
		if unescapedVarRE.MatchString(line) {
			probs = append(probs, fmt.Sprintf("%s:%d: ${...} must be written $${...} (Grafana expands env vars in provisioning)", datasourcesPath, i+1))
		}
	}
	settings, err := traceweaveSettings(s.datasources)
	if err != nil {
		return append(probs, fmt.Sprintf("Traceweave jsonData rejected by models.LoadSettings: %v", err))
	}
	for field, uid := range map[string]string{"tempo.datasourceUid": settings.Tempo.DatasourceUID, "loki.datasourceUid": settings.Loki.DatasourceUID} {
		if uids[uid] == "" {
			probs = append(probs, fmt.Sprintf("Traceweave %s %q is not a provisioned uid", field, uid))
		}
	}
	for _, ds := range s.datasources.Datasources {
		if ds.URL != "" {
			if u, err := url.Parse(ds.URL); err != nil {
				probs = append(probs, fmt.Sprintf("datasource %s: url %q: %v", ds.UID, ds.URL, err))
			} else {
				probs = append(probs, checkHost(s.compose, "datasource "+ds.UID+" url", u.Hostname())...)
			}
		}
		if derived, ok := ds.JSONData["derivedFields"].([]any); ok {
			for _, d := range derived {
				df, _ := d.(map[string]any)
				if uid, _ := df["datasourceUid"].(string); uid != "" && uids[uid] == "" {
					probs = append(probs, fmt.Sprintf("datasource %s: derived field %v links to unknown uid %q", ds.UID, df["name"], uid))
				}
			}
		}
		for _, c := range ds.Correlations {
			if uid, _ := c["targetUID"].(string); uids[uid] == "" {
				probs = append(probs, fmt.Sprintf("datasource %s: correlation %v targets unknown uid %q", ds.UID, c["label"], uid))
			}
			// Grafana type-asserts both to string while provisioning: a missing one aborts startup.
			for _, k := range []string{"label", "description"} {
				if v, _ := c[k].(string); v == "" {
					probs = append(probs, fmt.Sprintf("datasource %s: correlation needs a %s", ds.UID, k))
				}
			}
			if c["transformations"] != nil {
				probs = append(probs, fmt.Sprintf("datasource %s: correlation transformations belong under config", ds.UID))
			}
		}
	}
	// Hosts Traceweave connects to must be services of the stack.
	probs = append(probs, checkHost(s.compose, "Traceweave tempo.url", hostOf(settings.Tempo.URL))...)
	probs = append(probs, checkHost(s.compose, "Traceweave loki.url", hostOf(settings.Loki.URL))...)
	for _, b := range settings.Kafka.Brokers {
		h, _, _ := net.SplitHostPort(b)
		probs = append(probs, checkHost(s.compose, "Traceweave kafka.brokers", h)...)
	}
	return probs
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Hostname()
}

// checkCollectorHosts wants every endpoint/broker the collector exports to
// to be a service of the stack.
func checkCollectorHosts(s *stack) []string {
	var probs []string
	for _, id := range sortedKeys(s.collector.Exporters) {
		exp := s.collector.Exporters[id]
		if ep, ok := exp["endpoint"].(string); ok {
			for _, h := range hostsIn(ep) {
				probs = append(probs, checkHost(s.compose, "collector exporter "+id, h)...)
			}
		}
		if brokers, ok := exp["brokers"].([]any); ok {
			for _, b := range brokers {
				h, _, _ := net.SplitHostPort(fmt.Sprint(b))
				probs = append(probs, checkHost(s.compose, "collector exporter "+id, h)...)
			}
		}
	}
	return probs
}

// isVariable reports whether a datasource uid is a dashboard variable.
func isVariable(uid string) bool { return strings.HasPrefix(uid, "$") }

// checkDashboard wants the fixed uid, the traceId textbox, every panel and
// target datasource uid provisioned (or a variable), every Traceweave target
// but a search reading ${traceId}, and every Traceweave target accepted by
// the plugin's query parser once ${traceId} is filled in.
func checkDashboard(s *stack) []string {
	var probs []string
	d := s.dashboard
	if d["uid"] != dashboardUID {
		probs = append(probs, fmt.Sprintf("dashboard uid %v, want %s", d["uid"], dashboardUID))
	}
	hasVar := false
	if tpl, ok := d["templating"].(map[string]any); ok {
		list, _ := tpl["list"].([]any)
		for _, v := range list {
			m, _ := v.(map[string]any)
			if m["name"] == "traceId" && m["type"] == "textbox" {
				hasVar = true
			}
		}
	}
	if !hasVar {
		probs = append(probs, "dashboard has no textbox variable traceId")
	}
	uids := provisionedUIDs(s.datasources)
	panels, _ := d["panels"].([]any)
	if len(panels) == 0 {
		return append(probs, "dashboard has no panels")
	}
	types := map[string]int{}
	for _, p := range panels {
		panel, _ := p.(map[string]any)
		title := fmt.Sprint(panel["title"])
		typ, _ := panel["type"].(string)
		types[typ]++
		pds := dsUID(panel["datasource"])
		if pds == "" {
			probs = append(probs, fmt.Sprintf("panel %q has no datasource uid", title))
		} else if !isVariable(pds) && uids[pds] == "" {
			probs = append(probs, fmt.Sprintf("panel %q targets datasource uid %q, which is not provisioned", title, pds))
		}
		targets, _ := panel["targets"].([]any)
		if len(targets) == 0 {
			probs = append(probs, fmt.Sprintf("panel %q has no targets", title))
		}
		for _, tg := range targets {
			target, _ := tg.(map[string]any)
			uid := dsUID(target["datasource"])
			if uid == "" {
				uid = pds
			}
			if !isVariable(uid) && uids[uid] == "" {
				probs = append(probs, fmt.Sprintf("panel %q target %v uses datasource uid %q, which is not provisioned", title, target["refId"], uid))
			}
			if uids[uid] != pluginType {
				continue
			}
			// A search starts from TraceQL, not from the trace the dashboard shows.
			if target["queryType"] != models.QueryTypeSearch && target["traceId"] != "${traceId}" {
				probs = append(probs, fmt.Sprintf("panel %q target %v: traceId %v, want ${traceId}", title, target["refId"], target["traceId"]))
			}
			raw, _ := json.Marshal(target)
			raw = bytes.ReplaceAll(raw, []byte("${traceId}"), []byte(sampleTraceID))
			if _, err := models.ParseQuery(raw, ""); err != nil {
				probs = append(probs, fmt.Sprintf("panel %q target %v rejected by models.ParseQuery: %v", title, target["refId"], err))
			}
		}
	}
	for _, want := range []string{"traces", "logs", "table", "stat", "bargauge"} {
		if types[want] == 0 {
			probs = append(probs, fmt.Sprintf("dashboard has no %s panel", want))
		}
	}
	return probs
}

func dsUID(v any) string {
	switch v := v.(type) {
	case map[string]any:
		s, _ := v["uid"].(string)
		return s
	case string:
		return v
	}
	return ""
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ------------------------------------------------------------------ tests

func noProblems(t *testing.T, probs []string) {
	t.Helper()
	for _, p := range probs {
		t.Error(p)
	}
}

func TestComposeImagesPinned(t *testing.T) {
	noProblems(t, checkImagesPinned(loadStack(t).compose))
}

func TestComposeBindMountsExist(t *testing.T) {
	s := loadStack(t)
	noProblems(t, checkBindMounts(s.compose, s.root))
}

func TestComposeBuildContextsExist(t *testing.T) {
	s := loadStack(t)
	noProblems(t, checkBuildContexts(s.compose, s.root))
}

func TestComposePortsUnique(t *testing.T) {
	noProblems(t, checkPorts(loadStack(t).compose))
}

func TestComposeServiceReferences(t *testing.T) {
	s := loadStack(t)
	noProblems(t, checkServiceRefs(s.compose))
	noProblems(t, checkCollectorHosts(s))
}

func TestComposeNoVersionKey(t *testing.T) {
	// Compose v2 warns that `version` is obsolete; Compose 1.29 reads files
	// without it as the Compose Specification, so it is left out.
	b, err := os.ReadFile(filepath.Join(repoRoot(t), composePath))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if _, ok := top["version"]; ok {
		t.Errorf("%s has a top-level version key", composePath)
	}
}

func TestCollectorPipelines(t *testing.T) {
	noProblems(t, checkPipelines(loadStack(t).collector))
}

func TestKafkaTopicsAgree(t *testing.T) {
	noProblems(t, checkTopicsAgree(loadStack(t)))
}

func TestProvisioning(t *testing.T) {
	s := loadStack(t)
	noProblems(t, checkProvisioning(s))

	var dash struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	b, err := os.ReadFile(filepath.Join(s.root, dashboardsPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &dash); err != nil {
		t.Fatalf("parse %s: %v", dashboardsPath, err)
	}
	if len(dash.Providers) != 1 || dash.Providers[0].Options.Path != "/etc/grafana/provisioning/dashboards" {
		t.Errorf("%s: want one file provider reading /etc/grafana/provisioning/dashboards (./provisioning is mounted at /etc/grafana/provisioning), got %+v", dashboardsPath, dash.Providers)
	}
}

func TestTraceweaveSettingsMatchContract(t *testing.T) {
	settings, err := traceweaveSettings(loadStack(t).datasources)
	if err != nil {
		t.Fatalf("models.LoadSettings: %v", err)
	}
	if settings.Tempo.URL != "http://tempo:3200" || settings.Loki.URL != "http://loki:3100" {
		t.Errorf("upstream URLs %q, %q", settings.Tempo.URL, settings.Loki.URL)
	}
	if settings.Loki.Selector != models.DefaultLokiSelector || settings.Loki.TraceFilter != models.TraceFilterAuto {
		t.Errorf("loki selector %q traceFilter %q", settings.Loki.Selector, settings.Loki.TraceFilter)
	}
	if settings.Window.Before != models.Duration(models.DefaultWindowBefore) || settings.Window.After != models.Duration(models.DefaultWindowAfter) {
		t.Errorf("window %v/%v", settings.Window.Before, settings.Window.After)
	}
	if !slices.Equal(settings.Kafka.Brokers, []string{"kafka:9092"}) {
		t.Errorf("brokers %v", settings.Kafka.Brokers)
	}
}

func TestDashboard(t *testing.T) {
	noProblems(t, checkDashboard(loadStack(t)))
}

func TestErrorTracesPanelLinksBack(t *testing.T) {
	s := loadStack(t)
	raw, _ := json.Marshal(s.dashboard["panels"])
	for _, want := range []string{`{ status = error }`, `/d/` + dashboardUID + `?var-traceId=${__value.raw}`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("dashboard panels do not contain %q", want)
		}
	}
}

// TestChecksCatchMistakes breaks in-memory copies of the real files, one
// mistake each, and wants the matching check to report it: the checks above
// cannot pass vacuously.
func TestChecksCatchMistakes(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *stack)
		check  func(s *stack) []string
		want   string
	}{
		{"latest tag", func(s *stack) { setImage(s, "grafana", "grafana/grafana:latest") },
			func(s *stack) []string { return checkImagesPinned(s.compose) }, "not pinned"},
		{"untagged image", func(s *stack) { setImage(s, "redis", "redis") },
			func(s *stack) []string { return checkImagesPinned(s.compose) }, "has no tag"},
		{"missing bind path", func(s *stack) { addVolume(s, "mysql", "./demo/sql/missing.sql:/x.sql:ro") },
			func(s *stack) []string { return checkBindMounts(s.compose, s.root) }, "./demo/sql/missing.sql does not exist"},
		{"undeclared named volume", func(s *stack) { addVolume(s, "loki", "nosuchvolume:/data") },
			func(s *stack) []string { return checkBindMounts(s.compose, s.root) }, "not declared"},
		{"missing Dockerfile", func(s *stack) {
			c := s.compose.Services["go-proxy"]
			c.Build = map[string]any{"context": "./demo", "dockerfile": "Nope.Dockerfile"}
			s.compose.Services["go-proxy"] = c
		}, func(s *stack) []string { return checkBuildContexts(s.compose, s.root) }, "demo/Nope.Dockerfile does not exist"},
		{"duplicate host port", func(s *stack) { addPort(s, "loki", "3000:3100") },
			func(s *stack) []string { return checkPorts(s.compose) }, "host port 3000"},
		{"unknown depends_on", func(s *stack) { s.compose.Services["grafana"].DependsOn["nosuch"] = "service_started" },
			func(s *stack) []string { return checkServiceRefs(s.compose) }, `"nosuch"`},
		{"env URL to unknown host", func(s *stack) { s.compose.Services["go-proxy"].Environment["UPSTREAM_URL"] = "http://go-apii:8081" },
			func(s *stack) []string { return checkServiceRefs(s.compose) }, `"go-apii"`},
		{"DSN to unknown host", func(s *stack) {
			s.compose.Services["go-api"].Environment["MYSQL_DSN"] = "demo:demo@tcp(mariadb:3306)/demo"
		}, func(s *stack) []string { return checkServiceRefs(s.compose) }, `"mariadb"`},
		{"undefined exporter", func(s *stack) {
			pl := s.collector.Service.Pipelines["traces"]
			pl.Exporters = append(pl.Exporters, "otlp_grpc/nosuch")
			s.collector.Service.Pipelines["traces"] = pl
		}, func(s *stack) []string { return checkPipelines(s.collector) }, `"otlp_grpc/nosuch"`},
		{"unused receiver", func(s *stack) { s.collector.Receivers["file_log/extra"] = map[string]any{} },
			func(s *stack) []string { return checkPipelines(s.collector) }, "no pipeline uses it"},
		{"collector topic renamed", func(s *stack) {
			s.collector.Receivers["file_log/audit"]["resource"] = map[string]any{"kafka.topic": "audits"}
		}, checkTopicsAgree, "Kafka topics disagree"},
		{"otlp_logs partitions", func(s *stack) {
			svc := s.compose.Services[initService]
			svc.Command = []string{strings.ReplaceAll(strings.Join(svc.Command, "\n"), "--partitions 16", "--partitions 3")}
			s.compose.Services[initService] = svc
		}, checkTopicsAgree, "want 16"},
		{"not keyed", func(s *stack) { delete(s.collector.Exporters["kafka/otlp_logs"], "partition_logs_by_trace_id") },
			checkTopicsAgree, "partition_logs_by_trace_id=false"},
		{"encoding mismatch", func(s *stack) { setTopicEncoding(s, "otlp_logs", "otlp_json") },
			checkTopicsAgree, "writes encoding otlp_proto"},
		{"invalid Traceweave settings", func(s *stack) { setTopicEncoding(s, "audit", "avro") },
			checkProvisioning, "models.LoadSettings"},
		{"unescaped template variable", func(s *stack) {
			s.dsRaw = bytes.Replace(s.dsRaw, []byte(`"$${__value.raw}"`), []byte(`"${__value.raw}"`), 1)
		}, checkProvisioning, "must be written $${...}"},
		{"correlation to unknown uid", func(s *stack) { s.datasources.Datasources[1].Correlations[0]["targetUID"] = "nosuch" },
			checkProvisioning, `unknown uid "nosuch"`},
		{"dashboard unknown uid", func(s *stack) {
			panel := s.dashboard["panels"].([]any)[1].(map[string]any)
			panel["datasource"] = map[string]any{"uid": "jaeger"}
		}, checkDashboard, `"jaeger"`},
		{"dashboard bad query", func(s *stack) {
			target := s.dashboard["panels"].([]any)[2].(map[string]any)["targets"].([]any)[0].(map[string]any)
			target["queryType"] = "flamegraph"
		}, checkDashboard, "models.ParseQuery"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := loadStack(t)
			// Only this mistake matters here: another gap (a demo Dockerfile
			// not written yet) is reported by the tests above.
			for _, p := range tc.check(s) {
				if strings.Contains(p, tc.want) {
					t.Fatalf("the unmodified files already have %q", p)
				}
			}
			tc.mutate(s)
			probs := tc.check(s)
			for _, p := range probs {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got %q", tc.want, probs)
		})
	}
}

// TestLoadSettingsErrorIsClassified pins the error class the provisioning
// check relies on: a rejected jsonData wraps models.ErrInvalidSettings.
func TestLoadSettingsErrorIsClassified(t *testing.T) {
	s := loadStack(t)
	setTopicEncoding(s, "syslog", "yaml")
	_, err := traceweaveSettings(s.datasources)
	if !errors.Is(err, models.ErrInvalidSettings) {
		t.Fatalf("want ErrInvalidSettings, got %v", err)
	}
}

func setImage(s *stack, svc, image string) {
	c := s.compose.Services[svc]
	c.Image = image
	s.compose.Services[svc] = c
}

func addVolume(s *stack, svc, vol string) {
	c := s.compose.Services[svc]
	c.Volumes = append(slices.Clone(c.Volumes), vol)
	s.compose.Services[svc] = c
}

func addPort(s *stack, svc, port string) {
	c := s.compose.Services[svc]
	c.Ports = append(slices.Clone(c.Ports), port)
	s.compose.Services[svc] = c
}

func setTopicEncoding(s *stack, topic, encoding string) {
	for _, ds := range s.datasources.Datasources {
		if ds.Type != pluginType {
			continue
		}
		kafka := ds.JSONData["kafka"].(map[string]any)
		for _, t := range kafka["topics"].([]any) {
			if m := t.(map[string]any); m["name"] == topic {
				m["encoding"] = encoding
			}
		}
	}
}

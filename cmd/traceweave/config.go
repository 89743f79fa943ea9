package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/traceweave/traceweave/pkg/models"
)

// envPrefix starts every environment variable the CLI reads.
const envPrefix = "TRACEWEAVE_"

// secretEnv maps secureJsonData keys to the environment variables that may
// hold them. Secrets come only from the environment, a secrets file or the
// provisioning file — never from flags, which show up in `ps` and shell history.
var secretEnv = map[string]string{
	"tempoPassword":    envPrefix + "TEMPO_PASSWORD",
	"tempoBearerToken": envPrefix + "TEMPO_BEARER_TOKEN",
	"lokiPassword":     envPrefix + "LOKI_PASSWORD",
	"lokiBearerToken":  envPrefix + "LOKI_BEARER_TOKEN",
	"kafkaPassword":    envPrefix + "KAFKA_PASSWORD",
}

// provisioningFile is the part of a Grafana datasource provisioning file the CLI reads.
type provisioningFile struct {
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// configSources says where the configuration comes from.
type configSources struct {
	datasourceFile string
	datasourceName string
	secretsFile    string
	// overrides are the flag values (URLs, brokers, topics, window); empty means unset.
	tempoURL, lokiURL, brokers, topics, windowBefore, windowAfter string
}

// errBadInput marks errors that are the user's to fix (exit code 2).
var errBadInput = errors.New("bad input")

// loadConfig assembles jsonData and secureJsonData from a provisioning file
// (optional), then environment variables, then flags, and validates the
// result with the plugin's own models.LoadSettings.
func loadConfig(src configSources, getenv func(string) string) (*models.Settings, error) {
	jsonData := map[string]any{}
	secure := map[string]string{}
	if src.datasourceFile != "" {
		raw, err := os.ReadFile(src.datasourceFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadInput, err)
		}
		var pf provisioningFile
		if err := yaml.Unmarshal(raw, &pf); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errBadInput, src.datasourceFile, err)
		}
		found := false
		var names []string
		for _, ds := range pf.Datasources {
			if ds.Type != "traceweave-timeline-datasource" {
				continue
			}
			names = append(names, ds.Name)
			if src.datasourceName != "" && ds.Name != src.datasourceName && ds.UID != src.datasourceName {
				continue
			}
			if found {
				return nil, fmt.Errorf("%w: %s holds several Traceweave datasources (%s); choose one with --name", errBadInput, src.datasourceFile, strings.Join(names, ", "))
			}
			found = true
			if ds.JSONData != nil {
				jsonData = ds.JSONData
			}
			for k, v := range ds.SecureJSONData {
				// Grafana expands $VAR and ${VAR} in provisioning files; so do we.
				secure[k] = os.Expand(v, getenv)
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: no Traceweave datasource named %q in %s (found: %s)", errBadInput, src.datasourceName, src.datasourceFile, strings.Join(names, ", "))
		}
	}
	if src.secretsFile != "" {
		raw, err := os.ReadFile(src.secretsFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadInput, err)
		}
		var fileSecrets map[string]string
		if err := yaml.Unmarshal(raw, &fileSecrets); err != nil {
			return nil, fmt.Errorf("%w: secrets file %s: want a YAML or JSON map of secureJsonData keys to values", errBadInput, src.secretsFile)
		}
		for k, v := range fileSecrets {
			secure[k] = v
		}
	}
	for key, env := range secretEnv {
		if v := getenv(env); v != "" {
			secure[key] = v
		}
	}

	section := func(name string) map[string]any {
		m, _ := jsonData[name].(map[string]any)
		if m == nil {
			m = map[string]any{}
			jsonData[name] = m
		}
		return m
	}
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return getenv(envPrefix + env)
	}
	if v := pick(src.tempoURL, "TEMPO_URL"); v != "" {
		section("tempo")["url"] = v
	}
	if v := getenv(envPrefix + "TEMPO_TENANT"); v != "" {
		section("tempo")["tenant"] = v
	}
	if v := getenv(envPrefix + "TEMPO_USER"); v != "" {
		section("tempo")["basicAuthUser"] = v
	}
	if v := pick(src.lokiURL, "LOKI_URL"); v != "" {
		section("loki")["url"] = v
	}
	if v := getenv(envPrefix + "LOKI_TENANT"); v != "" {
		section("loki")["tenant"] = v
	}
	if v := getenv(envPrefix + "LOKI_USER"); v != "" {
		section("loki")["basicAuthUser"] = v
	}
	if v := getenv(envPrefix + "LOKI_SELECTOR"); v != "" {
		section("loki")["selector"] = v
	}
	if v := pick(src.brokers, "KAFKA_BROKERS"); v != "" {
		section("kafka")["brokers"] = splitList(v)
	}
	if v := pick(src.topics, "KAFKA_TOPICS"); v != "" {
		topics, err := parseTopics(v)
		if err != nil {
			return nil, err
		}
		section("kafka")["topics"] = topics
	}
	if v := getenv(envPrefix + "KAFKA_SASL_MECHANISM"); v != "" {
		section("kafka")["sasl"] = map[string]any{"mechanism": v, "username": getenv(envPrefix + "KAFKA_USER")}
	}
	if src.windowBefore != "" {
		section("window")["before"] = src.windowBefore
	}
	if src.windowAfter != "" {
		section("window")["after"] = src.windowAfter
	}
	raw, err := json.Marshal(jsonData)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadInput, err)
	}
	cfg, err := models.LoadSettings(raw, secure)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadInput, err)
	}
	return cfg, nil
}

// parseTopics reads "name[:encoding[:keyed[:hasher]]]" items separated by
// commas, e.g. "otlp_logs:otlp_proto:keyed,audit:json,syslog:raw".
func parseTopics(v string) ([]map[string]any, error) {
	var out []map[string]any
	for _, item := range splitList(v) {
		parts := strings.Split(item, ":")
		t := map[string]any{"name": parts[0]}
		if len(parts) > 1 && parts[1] != "" {
			t["encoding"] = parts[1]
		}
		if len(parts) > 2 {
			switch parts[2] {
			case "keyed":
				t["keyedByTraceId"] = true
			case "", "unkeyed":
			default:
				return nil, fmt.Errorf("%w: topic %q: third part must be keyed or unkeyed", errBadInput, item)
			}
		}
		if len(parts) > 3 && parts[3] != "" {
			t["hasher"] = parts[3]
		}
		if len(parts) > 4 {
			return nil, fmt.Errorf("%w: topic %q: want name[:encoding[:keyed[:hasher]]]", errBadInput, item)
		}
		out = append(out, t)
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Package models holds the typed datasource settings and query of the public
// contract (docs/DESIGN.md, "Settings" and "Query model") and owns every
// default of the settings. Settings are decoded into structs, never read
// through map type assertions, and validated with messages that name the
// field.
package models

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults of the contract (docs/DESIGN.md, "Settings"). Exported so the
// clients and the tests agree on one value; the front end's copy
// (src/defaults.gen.ts) is generated from what LoadSettings applies.
const (
	DefaultLokiSelector = `{service_name=~".+"}`
	DefaultLokiMaxLines = 5000
	DefaultLokiMaxTotal = 50000
	// DefaultLokiParallelQueries and MaxLokiParallelQueries bound
	// loki.parallelQueries.
	DefaultLokiParallelQueries = 4
	MaxLokiParallelQueries     = 16
	DefaultKafkaMaxRecords     = 5_000_000
	DefaultKafkaMaxBytes       = 1 << 30
	DefaultWindowBefore        = 30 * time.Second
	DefaultWindowAfter         = 2 * time.Minute
	DefaultUpstreamTimeout     = 30 * time.Second
	DefaultTempoMaxSpans       = 10_000
	TraceFilterAuto            = "auto"
	TraceFilterStructured      = "structured"
	TraceFilterLine            = "line"
	EncodingOTLPProto          = "otlp_proto"
	EncodingOTLPJSON           = "otlp_json"
	EncodingRaw                = "raw"
	EncodingJSON               = "json"
	EncodingText               = "text"
	HasherSaramaCompat         = "sarama_compat"
	HasherMurmur2              = "murmur2"
	SASLPlain                  = "PLAIN"
	SASLScramSHA256            = "SCRAM-SHA-256"
	SASLScramSHA512            = "SCRAM-SHA-512"
	secureKafkaPassword        = "kafkaPassword"
	secureKafkaTLSCACert       = "kafkaTLSCACert"
	maxKafkaTopicNameLength    = 249
)

// ErrInvalidSettings wraps every settings validation error, so callers can
// classify it (a configuration error, not an upstream failure).
var ErrInvalidSettings = errors.New("invalid settings")

// Duration is a time.Duration written as a Go duration string ("30s", "2m") in JSON.
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string; a bare number is rejected with
// a hint, because "30" is ambiguous (seconds? milliseconds?).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\" or \"2m\", got %s", clip(string(b)))
	}
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"2m\", got %q", clip(s))
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// HTTPUpstream holds the settings Tempo and Loki share.
type HTTPUpstream struct {
	URL           string   `json:"url"`
	Tenant        string   `json:"tenant"`
	BasicAuthUser string   `json:"basicAuthUser"`
	Timeout       Duration `json:"timeout"`
	// InsecureSkipVerify skips TLS certificate checks (self-signed test setups only).
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
	// DatasourceUID is the uid of a Grafana datasource of the same upstream,
	// used only to build links to it.
	DatasourceUID string `json:"datasourceUid"`

	// Password and BearerToken come from secureJsonData only.
	Password    string `json:"-"`
	BearerToken string `json:"-"`

	// Headers are sent with every request to the upstream (an auth proxy's
	// header, a tenant header other than X-Scope-OrgID). Names are jsonData;
	// each value is a secret, secureJsonData <upstream>Header<N> (N counts
	// from 1 in list order), so it is encrypted at rest like a password.
	Headers []HTTPHeader `json:"headers"`
	// TLSAuthWithCACert verifies the upstream's certificate against
	// TLSCACert (secureJsonData <upstream>TLSCACert, PEM) instead of the
	// system's roots.
	TLSAuthWithCACert bool `json:"tlsAuthWithCACert"`
	// TLSAuth presents a client certificate: TLSClientCert and TLSClientKey
	// (secureJsonData <upstream>TLSClientCert / <upstream>TLSClientKey, PEM).
	TLSAuth bool `json:"tlsAuth"`
	// TLSServerName, when set, is the name the upstream's certificate is
	// checked against instead of the URL's host.
	TLSServerName string `json:"tlsServerName"`
	// TLSCACert, TLSClientCert and TLSClientKey come from secureJsonData only.
	TLSCACert     string `json:"-"`
	TLSClientCert string `json:"-"`
	TLSClientKey  string `json:"-"`
}

// HTTPHeader is one custom header of an HTTP upstream: Name from jsonData,
// Value from secureJsonData (see HTTPUpstream.Headers).
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"-"`
}

// secrets lists the upstream's secret values (empty ones included).
func (h HTTPUpstream) secrets() []string {
	out := []string{h.Password, h.BearerToken, h.TLSClientKey}
	for _, hd := range h.Headers {
		out = append(out, hd.Value)
	}
	return out
}

// loadSecrets fills the upstream's secret fields from secureJsonData, whose
// keys start with prefix ("tempo", "loki").
func (h *HTTPUpstream) loadSecrets(prefix string, secure map[string]string) {
	h.Password = secure[prefix+"Password"]
	h.BearerToken = secure[prefix+"BearerToken"]
	h.TLSCACert = secure[prefix+"TLSCACert"]
	h.TLSClientCert = secure[prefix+"TLSClientCert"]
	h.TLSClientKey = secure[prefix+"TLSClientKey"]
	for i := range h.Headers {
		h.Headers[i].Value = secure[fmt.Sprintf("%sHeader%d", prefix, i+1)]
	}
}

// Configured reports whether the upstream has a URL.
func (h HTTPUpstream) Configured() bool { return strings.TrimSpace(h.URL) != "" }

// TempoSettings configures the Tempo source.
type TempoSettings struct {
	HTTPUpstream
	// SearchTimeRange sends the query's time range as start/end so Tempo
	// searches only the blocks of that range.
	SearchTimeRange bool `json:"searchTimeRange"`
	// MaxSpans caps the spans kept (earliest first) so one huge trace cannot
	// swamp the panel or the plugin's memory; a notice says when it applies.
	MaxSpans int `json:"maxSpans"`
}

// LokiSettings configures the Loki source.
type LokiSettings struct {
	HTTPUpstream
	Selector      string `json:"selector"`
	TraceFilter   string `json:"traceFilter"`
	MaxLines      int    `json:"maxLines"`
	MaxTotalLines int    `json:"maxTotalLines"`
	// ParallelQueries is how many slots of time the rest of a large result
	// (its first page full) is read in at once; 1 reads page after page.
	ParallelQueries int `json:"parallelQueries"`
}

// KafkaTopic is one Kafka topic holding archived logs.
type KafkaTopic struct {
	Name           string `json:"name"`
	Encoding       string `json:"encoding"`
	KeyedByTraceID bool   `json:"keyedByTraceId"`
	Hasher         string `json:"hasher"`
}

// KafkaSASL configures SASL; the password is secureJsonData.kafkaPassword.
type KafkaSASL struct {
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Password  string `json:"-"`
}

// KafkaTLS configures TLS to the brokers.
type KafkaTLS struct {
	Enabled            bool `json:"enabled"`
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
	// CACert is the PEM of the CA (or CAs) that signed the brokers'
	// certificates, for a private CA; empty trusts the system's roots. It
	// comes from secureJsonData.kafkaTLSCACert, where Grafana's own
	// datasources keep their tlsCACert, and is used only with Enabled.
	CACert string `json:"-"`
}

// CertPool is the pool of CACert's certificates, nil when CACert is empty
// (the system's roots). It fails when CACert holds no PEM certificate or a
// PEM block that does not parse, so a pasted key or a truncated file is
// reported at settings load, not as an untrusted broker later.
func (t KafkaTLS) CertPool() (*x509.CertPool, error) {
	if strings.TrimSpace(t.CACert) == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	rest := []byte(t.CACert)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a PEM %q block; only CERTIFICATE blocks (the CA's certificate, never a key) belong here", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %v", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

// KafkaSettings configures the Kafka archive source.
type KafkaSettings struct {
	Brokers    []string     `json:"brokers"`
	Topics     []KafkaTopic `json:"topics"`
	SASL       KafkaSASL    `json:"sasl"`
	TLS        KafkaTLS     `json:"tls"`
	MaxRecords int64        `json:"maxRecords"`
	MaxBytes   int64        `json:"maxBytes"`
	// Timeout bounds the whole Kafka search of one query, like tempo.timeout
	// and loki.timeout, so a stalled broker cannot hold the other sources' data.
	Timeout Duration `json:"timeout"`
}

// Configured reports whether any broker is set.
func (k KafkaSettings) Configured() bool { return len(k.Brokers) > 0 }

// WindowSettings pads the trace's time window when searching logs: Before
// for logs written just before the first span, After for export delay.
type WindowSettings struct {
	Before Duration `json:"before"`
	After  Duration `json:"after"`
}

// TierMatch selects spans by one attribute (span attributes first, then
// resource attributes; "service.name" is the span's service): Value matches
// exactly, Regex as a Go regular expression.
type TierMatch struct {
	Attribute string `json:"attribute"`
	Value     string `json:"value,omitempty"`
	Regex     string `json:"regex,omitempty"`
}

// TierRule assigns Tier to the spans its Match selects. Rules are tried in
// order; the first match wins; unmatched spans are TierOther. Tier is the
// user's own name for a layer of their request path (see ValidateTierName);
// Order and Color say where and how the summary and dashboards show it.
// Rules naming the same tier share its order and colour: set them on any
// one rule, and two rules of one tier must not disagree (Validate).
type TierRule struct {
	Tier  string    `json:"tier"`
	Match TierMatch `json:"match"`
	// Order places the tier among the summary's rows: tiers with an order
	// come first, lowest first; the others follow in the order they first
	// appear in the trace (timeline.Summarize).
	Order *int `json:"order,omitempty"`
	// Color is the tier's colour: a Grafana colour name (see
	// ValidateTierColor) or #rrggbb.
	Color string `json:"color,omitempty"`

	re *regexp.Regexp
}

// Regexp returns the compiled Match.Regex (nil when the rule matches by value).
func (r *TierRule) Regexp() *regexp.Regexp { return r.re }

// TierOther is the tier of spans no rule matches and of logs tied to no span.
const TierOther = "other"

// MaxTierNameLen bounds a tier name, in characters: it is a label in a
// table row, a bar's name and a CLI column, and 64 is far more than any layer
// name needs while keeping a mistyped paste (a whole regex, a log line) out.
const MaxTierNameLen = 64

// DefaultTierRules follows OpenTelemetry semantic conventions for the five
// tiers of the reference architecture, ordered along its request path:
// proxy, go, rails, mysql, redis (other, unordered, comes last).
func DefaultTierRules() []TierRule {
	order := func(n int) *int { return &n }
	return []TierRule{
		{Tier: "mysql", Match: TierMatch{Attribute: "db.system", Value: "mysql"}, Order: order(4)},
		{Tier: "mysql", Match: TierMatch{Attribute: "db.system.name", Value: "mysql"}},
		{Tier: "redis", Match: TierMatch{Attribute: "db.system", Value: "redis"}, Order: order(5)},
		{Tier: "redis", Match: TierMatch{Attribute: "db.system.name", Value: "redis"}},
		{Tier: "mysql", Match: TierMatch{Attribute: "service.name", Regex: `(?i)^(mysql|mariadb)`}},
		{Tier: "redis", Match: TierMatch{Attribute: "service.name", Regex: `(?i)^redis`}},
		{Tier: "rails", Match: TierMatch{Attribute: "telemetry.sdk.language", Value: "ruby"}, Order: order(3)},
		{Tier: "proxy", Match: TierMatch{Attribute: "service.name", Regex: `(?i)proxy|gateway|nginx|envoy`}, Order: order(1)},
		{Tier: "go", Match: TierMatch{Attribute: "telemetry.sdk.language", Value: "go"}, Order: order(2)},
	}
}

// TierStyle is what the rules say about one tier beyond matching: its
// order (nil: by first appearance) and colour ("" when unset).
type TierStyle struct {
	Tier  string
	Order *int
	Color string
}

// TierStyles merges the order and colour of each tier named in rules, one
// entry per tier in the order the rules first name it. Conflicting values
// are a validation error, so after Validate the first one set is the only one.
func TierStyles(rules []TierRule) []TierStyle {
	var out []TierStyle
	at := map[string]int{}
	for _, r := range rules {
		i, ok := at[r.Tier]
		if !ok {
			i = len(out)
			at[r.Tier] = i
			out = append(out, TierStyle{Tier: r.Tier})
		}
		if out[i].Order == nil && r.Order != nil {
			o := *r.Order
			out[i].Order = &o
		}
		if out[i].Color == "" {
			out[i].Color = r.Color
		}
	}
	return out
}

// ValidateTierName checks a tier name: non-empty (it is trimmed when
// settings load), at most MaxTierNameLen characters, and printable — no
// control characters, which would corrupt the CLI's table and a panel's
// label.
func ValidateTierName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("is empty")
	case !utf8.ValidString(name):
		return errors.New("is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxTierNameLen:
		return fmt.Errorf("%q is longer than %d characters", clip(name), MaxTierNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%q contains a control or non-printable character (%U)", clip(name), r)
		}
	}
	return nil
}

// grafanaHues and grafanaShades make Grafana's named colours (the colour
// picker's palette): a hue alone or with one of the shade prefixes, e.g.
// "blue", "dark-green", "super-light-orange".
var (
	grafanaHues   = []string{"red", "orange", "yellow", "green", "blue", "purple"}
	grafanaShades = []string{"", "dark-", "semi-dark-", "light-", "super-light-"}
	hexColorRE    = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// ValidateTierColor checks a tier colour: "" (unset), one of Grafana's
// named colours (grafanaHues with an optional shade prefix, as the colour
// picker names them) or #rrggbb.
func ValidateTierColor(c string) error {
	if c == "" || hexColorRE.MatchString(c) {
		return nil
	}
	for _, shade := range grafanaShades {
		for _, hue := range grafanaHues {
			if c == shade+hue {
				return nil
			}
		}
	}
	return fmt.Errorf("%q is neither #rrggbb nor a Grafana colour name such as blue, dark-green or light-orange", clip(c))
}

// Settings is the decoded datasource configuration.
type Settings struct {
	Tempo  TempoSettings  `json:"tempo"`
	Loki   LokiSettings   `json:"loki"`
	Kafka  KafkaSettings  `json:"kafka"`
	Window WindowSettings `json:"window"`
	Tiers  []TierRule     `json:"tiers"`
	// Cache and TraceView shape how panels share one run and what the
	// trace frame carries (panels.go).
	Cache     CacheSettings     `json:"cache"`
	TraceView TraceViewSettings `json:"traceView"`
	// Search configures the search query (search.go).
	Search SearchSettings `json:"search"`
}

// Secrets reports the secret values, so tests and log scrubbing can check
// that none of them leaks.
func (s *Settings) Secrets() []string {
	var out []string
	all := append(append(s.Tempo.secrets(), s.Loki.secrets()...), s.Kafka.SASL.Password)
	for _, v := range all {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// LoadSettings decodes jsonData and the decrypted secureJsonData, applies
// defaults and validates. Every error wraps ErrInvalidSettings and names the
// field to fix.
func LoadSettings(jsonData []byte, secure map[string]string) (*Settings, error) {
	s := &Settings{}
	if len(strings.TrimSpace(string(jsonData))) > 0 {
		// Decode section by section so an error names its section even when
		// it comes from a custom decoder (a duration) that knows no field path.
		var sections map[string]json.RawMessage
		if err := json.Unmarshal(jsonData, &sections); err != nil {
			return nil, fmt.Errorf("%w: jsonData is not a JSON object: %s", ErrInvalidSettings, describeJSONError(err))
		}
		targets := map[string]any{"tempo": &s.Tempo, "loki": &s.Loki, "kafka": &s.Kafka, "window": &s.Window, "tiers": &s.Tiers,
			"cache": &s.Cache, "traceView": &s.TraceView, "search": &s.Search}
		for name, raw := range sections {
			target, ok := targets[name]
			if !ok || string(raw) == "null" {
				continue // Unknown keys (Grafana adds its own) are ignored.
			}
			if err := json.Unmarshal(raw, target); err != nil {
				return nil, fmt.Errorf("%w: %s", ErrInvalidSettings, describeJSONError(fieldError{name, err}))
			}
		}
	}
	s.Tempo.loadSecrets("tempo", secure)
	s.Loki.loadSecrets("loki", secure)
	s.Kafka.SASL.Password = secure[secureKafkaPassword]
	s.Kafka.TLS.CACert = secure[secureKafkaTLSCACert]
	s.applyDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// fieldError ties a decode error to the settings section it came from.
type fieldError struct {
	section string
	err     error
}

func (e fieldError) Error() string { return e.section + ": " + e.err.Error() }
func (e fieldError) Unwrap() error { return e.err }

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		var fe fieldError
		if errors.As(err, &fe) {
			field = fe.section + "." + field
		}
		return fmt.Sprintf("%s must be a %s, not a JSON %s", field, te.Type.String(), te.Value)
	}
	return err.Error()
}

// applyDefaults gives every unset setting its default. The defaults live
// here and in the constants above only: the clients apply the same methods
// to settings that did not come through LoadSettings, and the front end's
// copy (src/defaults.gen.ts) is generated from what this applies.
func (s *Settings) applyDefaults() {
	s.Tempo = s.Tempo.WithDefaults()
	s.Loki = s.Loki.WithDefaults()
	s.Kafka = s.Kafka.WithDefaults()
	s.Window = s.Window.WithDefaults()
	if len(s.Tiers) == 0 {
		s.Tiers = DefaultTierRules()
	}
	for i := range s.Tiers {
		s.Tiers[i].Tier = strings.TrimSpace(s.Tiers[i].Tier)
		s.Tiers[i].Color = strings.TrimSpace(s.Tiers[i].Color)
	}
	s.applyPanelDefaults()
	s.Search = s.Search.WithDefaults()
}

// withDefaults trims the URL and gives an unset timeout its default.
func (h HTTPUpstream) withDefaults() HTTPUpstream {
	h.URL = strings.TrimRight(strings.TrimSpace(h.URL), "/")
	h.TLSServerName = strings.TrimSpace(h.TLSServerName)
	h.Headers = slices.Clone(h.Headers)
	for i := range h.Headers {
		h.Headers[i].Name = strings.TrimSpace(h.Headers[i].Name)
	}
	if h.Timeout == 0 {
		h.Timeout = Duration(DefaultUpstreamTimeout)
	}
	return h
}

// WithDefaults returns t with its unset (zero) fields at their defaults.
func (t TempoSettings) WithDefaults() TempoSettings {
	t.HTTPUpstream = t.HTTPUpstream.withDefaults()
	if t.MaxSpans == 0 {
		t.MaxSpans = DefaultTempoMaxSpans
	}
	return t
}

// WithDefaults returns l with its unset (zero) fields at their defaults and
// the selector trimmed.
func (l LokiSettings) WithDefaults() LokiSettings {
	l.HTTPUpstream = l.HTTPUpstream.withDefaults()
	l.Selector = strings.TrimSpace(l.Selector)
	if l.Selector == "" {
		l.Selector = DefaultLokiSelector
	}
	if l.TraceFilter == "" {
		l.TraceFilter = TraceFilterAuto
	}
	if l.MaxLines == 0 {
		l.MaxLines = DefaultLokiMaxLines
	}
	if l.MaxTotalLines == 0 {
		l.MaxTotalLines = DefaultLokiMaxTotal
	}
	if l.ParallelQueries == 0 {
		l.ParallelQueries = DefaultLokiParallelQueries
	}
	return l
}

// WithDefaults returns k with its unset (zero) fields at their defaults,
// blank brokers dropped and topic names trimmed. The topics are copied, so
// k's own slice is left as it was.
func (k KafkaSettings) WithDefaults() KafkaSettings {
	if k.Timeout == 0 {
		k.Timeout = Duration(DefaultUpstreamTimeout)
	}
	var brokers []string
	for _, b := range k.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	k.Brokers = brokers
	k.Topics = slices.Clone(k.Topics)
	for i := range k.Topics {
		t := &k.Topics[i]
		t.Name = strings.TrimSpace(t.Name)
		if t.Hasher == "" {
			t.Hasher = HasherSaramaCompat
		}
		if t.Encoding == "" {
			t.Encoding = EncodingOTLPProto
		}
	}
	if k.MaxRecords == 0 {
		k.MaxRecords = DefaultKafkaMaxRecords
	}
	if k.MaxBytes == 0 {
		k.MaxBytes = DefaultKafkaMaxBytes
	}
	return k
}

// WithDefaults returns w with an unset (zero) padding at its default.
func (w WindowSettings) WithDefaults() WindowSettings {
	if w.Before == 0 {
		w.Before = Duration(DefaultWindowBefore)
	}
	if w.After == 0 {
		w.After = Duration(DefaultWindowAfter)
	}
	return w
}

var (
	topicNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	// A stream selector: braces around at least one matcher. Loki's parser
	// is the final judge; this catches the mistakes that would otherwise
	// only surface at query time.
	selectorRE = regexp.MustCompile(`^\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*)*\}$`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
)

// Validate checks the settings and says which field to fix.
func (s *Settings) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	checkURL := func(field, raw, example string) {
		if raw == "" {
			return // not configured
		}
		if _, problem := parseUpstreamURL(raw, example); problem != "" {
			bad(field, "%s", problem)
		}
	}
	checkURL("tempo.url", s.Tempo.URL, "http://tempo:3200")
	checkURL("loki.url", s.Loki.URL, "http://loki:3100")
	if s.Tempo.Timeout < 0 {
		bad("tempo.timeout", "must be positive")
	}
	if s.Loki.Timeout < 0 {
		bad("loki.timeout", "must be positive")
	}
	if s.Kafka.Timeout < 0 {
		bad("kafka.timeout", "must be positive")
	}
	validateHTTPUpstream("tempo", s.Tempo.HTTPUpstream, bad)
	validateHTTPUpstream("loki", s.Loki.HTTPUpstream, bad)
	if s.Tempo.MaxSpans < 0 {
		bad("tempo.maxSpans", "must be positive")
	}
	if err := ValidateSelector(s.Loki.Selector); err != nil {
		bad("loki.selector", "%v", err)
	}
	switch s.Loki.TraceFilter {
	case TraceFilterAuto, TraceFilterStructured, TraceFilterLine:
	default:
		bad("loki.traceFilter", "%q is not one of auto, structured, line", clip(s.Loki.TraceFilter))
	}
	if s.Loki.MaxLines < 1 {
		bad("loki.maxLines", "must be at least 1 (Loki's default server maximum is 5000)")
	}
	if s.Loki.MaxTotalLines < 1 {
		bad("loki.maxTotalLines", "must be at least 1")
	}
	if s.Loki.ParallelQueries < 1 || s.Loki.ParallelQueries > MaxLokiParallelQueries {
		bad("loki.parallelQueries", "must be 1 to %d (1 reads page after page)", MaxLokiParallelQueries)
	}
	for i, b := range s.Kafka.Brokers {
		if !strings.Contains(b, ":") || strings.HasPrefix(b, ":") || strings.HasSuffix(b, ":") || strings.Contains(b, "://") {
			bad(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port, e.g. kafka:9092", clip(b))
		}
	}
	names := map[string]bool{}
	for i, t := range s.Kafka.Topics {
		field := fmt.Sprintf("kafka.topics[%d]", i)
		switch {
		case t.Name == "":
			bad(field+".name", "is empty")
		case len(t.Name) > maxKafkaTopicNameLength || !topicNameRE.MatchString(t.Name) || t.Name == "." || t.Name == "..":
			bad(field+".name", "%q is not a Kafka topic name (letters, digits, '.', '_', '-', at most 249)", clip(t.Name))
		case names[t.Name]:
			bad(field+".name", "topic %q is listed twice", t.Name)
		}
		names[t.Name] = true
		switch t.Encoding {
		case EncodingOTLPProto, EncodingOTLPJSON, EncodingRaw, EncodingJSON, EncodingText:
		default:
			bad(field+".encoding", "%q is not one of otlp_proto, otlp_json, raw, json, text", clip(t.Encoding))
		}
		switch t.Hasher {
		case HasherSaramaCompat, HasherMurmur2:
		default:
			bad(field+".hasher", "%q is not one of sarama_compat, murmur2", clip(t.Hasher))
		}
	}
	if len(s.Kafka.Topics) > 0 && len(s.Kafka.Brokers) == 0 {
		bad("kafka.brokers", "topics are configured but no broker is; add e.g. kafka:9092")
	}
	if len(s.Kafka.Brokers) > 0 && len(s.Kafka.Topics) == 0 {
		bad("kafka.topics", "brokers are configured but no topic to read; add at least one topic")
	}
	switch s.Kafka.SASL.Mechanism {
	case "":
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.Kafka.SASL.Username == "" {
			bad("kafka.sasl.username", "is required with SASL %s", s.Kafka.SASL.Mechanism)
		}
	default:
		bad("kafka.sasl.mechanism", "%q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", clip(s.Kafka.SASL.Mechanism))
	}
	if _, err := s.Kafka.TLS.CertPool(); err != nil {
		bad("secureJsonData."+secureKafkaTLSCACert, "%v", err)
	}
	if s.Kafka.MaxRecords < 0 {
		bad("kafka.maxRecords", "must be positive")
	}
	if s.Kafka.MaxBytes < 0 {
		bad("kafka.maxBytes", "must be positive")
	}
	if s.Window.Before < 0 {
		bad("window.before", "must not be negative")
	}
	if s.Window.After < 0 {
		bad("window.after", "must not be negative")
	}
	tierOrderAt, tierColorAt := map[string]int{}, map[string]int{}
	for i := range s.Tiers {
		r := &s.Tiers[i]
		field := fmt.Sprintf("tiers[%d]", i)
		if err := ValidateTierName(r.Tier); err != nil {
			bad(field+".tier", "%v", err)
		}
		if err := ValidateTierColor(r.Color); err != nil {
			bad(field+".color", "%v", err)
		}
		// Rules of one tier share its order and colour; two rules that set
		// different ones leave the summary no single answer.
		if first, ok := tierOrderAt[r.Tier]; ok && r.Order != nil && *s.Tiers[first].Order != *r.Order {
			bad(field+".order", "%d conflicts with tiers[%d].order %d for tier %q; rules of one tier share its order", *r.Order, first, *s.Tiers[first].Order, clip(r.Tier))
		} else if !ok && r.Order != nil {
			tierOrderAt[r.Tier] = i
		}
		if first, ok := tierColorAt[r.Tier]; ok && r.Color != "" && s.Tiers[first].Color != r.Color {
			bad(field+".color", "%q conflicts with tiers[%d].color %q for tier %q; rules of one tier share its colour", clip(r.Color), first, clip(s.Tiers[first].Color), clip(r.Tier))
		} else if !ok && r.Color != "" {
			tierColorAt[r.Tier] = i
		}
		if r.Match.Attribute == "" {
			bad(field+".match.attribute", "is empty")
		}
		if (r.Match.Value == "") == (r.Match.Regex == "") {
			bad(field+".match", "set exactly one of value or regex")
		}
		if r.Match.Regex != "" {
			re, err := regexp.Compile(r.Match.Regex)
			if err != nil {
				bad(field+".match.regex", "%v", err)
			}
			r.re = re
		}
	}
	s.validatePanels(bad)
	s.Search.validate(bad)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidSettings, errors.Join(errs...))
}

// ValidateSelector checks a Loki stream selector the way Loki would judge
// it: braces around matchers, and at least one matcher that cannot match
// the empty string (Loki rejects `{job=~".*"}`).
func ValidateSelector(sel string) error {
	if !selectorRE.MatchString(sel) {
		return fmt.Errorf("%q is not a stream selector such as %s", clip(sel), DefaultLokiSelector)
	}
	for _, m := range matcherRE.FindAllStringSubmatch(sel, -1) {
		op, val := m[2], m[3]
		switch op {
		case "=":
			if val != "" {
				return nil
			}
		case "=~":
			re, err := regexp.Compile("^(?:" + strings.ReplaceAll(val, `\\`, `\`) + ")$")
			if err != nil {
				return fmt.Errorf("matcher %s: %v", m[0], err)
			}
			if !re.MatchString("") {
				return nil
			}
		}
	}
	return fmt.Errorf("%q: at least one matcher must not match the empty string (Loki rejects it), e.g. %s", clip(sel), DefaultLokiSelector)
}

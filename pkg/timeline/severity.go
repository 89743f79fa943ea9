package timeline

import "strings"

// Normalised severities, the level names Grafana's logs panel colours.
const (
	SeverityTrace    = "trace"
	SeverityDebug    = "debug"
	SeverityInfo     = "info"
	SeverityWarn     = "warn"
	SeverityError    = "error"
	SeverityCritical = "critical"
	SeverityUnknown  = "unknown"
)

// NormalizeSeverity maps the many spellings of a log level (OTLP
// severity_text, syslog names, Ruby and Go logger names, numeric OTLP
// severity numbers as text) to one of the Severity* constants, so that
// lines from different sources compare and colour alike.
func NormalizeSeverity(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "":
		return SeverityUnknown
	case "trace", "trc", "trace2", "trace3", "trace4", "finest", "verbose", "1", "2", "3", "4":
		return SeverityTrace
	case "debug", "dbg", "debug2", "debug3", "debug4", "fine", "5", "6", "7", "8":
		return SeverityDebug
	case "info", "inf", "information", "informational", "notice", "info2", "info3", "info4", "9", "10", "11", "12":
		return SeverityInfo
	case "warn", "warning", "wrn", "warn2", "warn3", "warn4", "13", "14", "15", "16":
		return SeverityWarn
	case "error", "err", "eror", "error2", "error3", "error4", "17", "18", "19", "20":
		return SeverityError
	case "fatal", "critical", "crit", "emerg", "emergency", "alert", "panic", "fatal2", "fatal3", "fatal4", "21", "22", "23", "24":
		return SeverityCritical
	}
	// Prefix forms such as "ERROR:" or "warning!" seen in text logs.
	for _, p := range []struct{ prefix, sev string }{
		{"fatal", SeverityCritical}, {"crit", SeverityCritical}, {"emerg", SeverityCritical}, {"panic", SeverityCritical},
		{"err", SeverityError}, {"warn", SeverityWarn}, {"info", SeverityInfo}, {"debug", SeverityDebug}, {"trace", SeverityTrace},
	} {
		if strings.HasPrefix(s, p.prefix) {
			return p.sev
		}
	}
	return SeverityUnknown
}

// IsErrorSeverity reports whether a normalised severity marks an error (error or critical).
func IsErrorSeverity(s string) bool { return s == SeverityError || s == SeverityCritical }

package kafka

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/traceweave/traceweave/pkg/timeline"
)

var jsonLogs plog.JSONUnmarshaler

// decodeOTLPJSON decodes a kafkaexporter otlp_json message: OTLP JSON
// LogsData, with trace and span IDs as hex strings.
func decodeOTLPJSON(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	logs, err := jsonLogs.UnmarshalLogs(value)
	if err != nil {
		return dst, fmt.Errorf("%w: otlp_json: %v", errUndecodable, err)
	}
	return appendOTLP(dst, logs, c), nil
}

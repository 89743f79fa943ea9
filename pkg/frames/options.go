// Package frames turns the merged timeline.Model into the Grafana data
// frames of the public contract: trace (trace view), logs (logs panel),
// timeline (table) and summary. Frame shapes live here and nowhere else.
package frames

import (
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// Frame names of the public contract; panels select frames by them
// (models.Query.Frames), so the names are the query model's.
const (
	NameTrace    = models.FrameTrace
	NameLogs     = models.FrameLogs
	NameTimeline = models.FrameTimeline
	NameSummary  = models.FrameSummary
	// NameFirstError is the timeline frame cut to the trace's first error:
	// a stat panel reads one row instead of every event of the trace.
	NameFirstError = models.FrameFirstError
)

// Build builds the frame of that name (one of models.AllFrames); nil for
// an unknown name, which models.ParseQuery never lets through.
func Build(name string, m *timeline.Model, opts Options) *data.Frame {
	switch name {
	case NameTrace:
		return Trace(m, opts)
	case NameLogs:
		return Logs(m, opts)
	case NameTimeline:
		return Timeline(m, opts)
	case NameSummary:
		return Summary(m)
	case NameFirstError:
		return FirstError(m, opts)
	}
	return nil
}

// Options carries what frame building needs beyond the model: the uids used
// for click-through links.
type Options struct {
	// DatasourceUID and DatasourceName identify this Traceweave datasource,
	// the target of internal links (span → its logs, log → its trace).
	DatasourceUID  string
	DatasourceName string
	// TempoUID and LokiUID are the optional tempo.datasourceUid and
	// loki.datasourceUid settings; when set, frames link to those datasources too.
	TempoUID string
	LokiUID  string
	// LokiSelector is the stream selector used for "open in Loki" links.
	LokiSelector string
	// MaxLogsPerSpan bounds the log lines in one span's logs cell of the
	// trace frame (the traceView.maxLogsPerSpan setting); 0 or less keeps
	// every line. A span past the bound ends with an entry saying how many
	// lines it left out, and the frame carries a notice.
	MaxLogsPerSpan int
}

// Package frames turns the merged timeline.Model into the Grafana data
// frames of the public contract: trace (trace view), logs (logs panel),
// timeline (table) and summary. Frame shapes live here and nowhere else.
package frames

// Frame names of the public contract; panels and dashboards select frames by them.
const (
	NameTrace    = "trace"
	NameLogs     = "logs"
	NameTimeline = "timeline"
	NameSummary  = "summary"
)

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
}

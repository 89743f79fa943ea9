package engine

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLokiClientNoticesReachTheUser: when more lines share one timestamp
// than Loki returns per query, the Loki client reads what it can and says
// so; that notice must reach the query's notices, or the user would not
// know lines are missing.
func TestLokiClientNoticesReachTheUser(t *testing.T) {
	ts := at(0).UnixNano()
	lk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
		end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		values := [][2]string{}
		if start <= ts && ts < end {
			// Always a full page at one instant: more lines than any limit.
			for i := 0; i < limit; i++ {
				values = append(values, [2]string{strconv.FormatInt(ts, 10), fmt.Sprintf("line %d trace_id=%s", i, testTraceID)})
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{
			"resultType": "streams", "result": []any{map[string]any{"stream": map[string]string{"service_name": "api"}, "values": values}},
		}})
	}))
	t.Cleanup(lk.Close)
	e := newTestEngine(t, newFakeTempo(t, 0).URL, lk.URL, 100_000)
	out := runQuery(t, e, longFrom, longTo)
	var texts []string
	for _, n := range out.Notices {
		texts = append(texts, n.Severity+": "+n.Text)
	}
	require.Contains(t, fmt.Sprint(texts), "warning: Loki: more than 800 lines share the timestamp")
	require.NotEmpty(t, out.Model.Logs, "the lines that could be read are kept")
}

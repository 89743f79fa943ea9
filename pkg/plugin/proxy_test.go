package plugin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/proxy"
	"github.com/grafana/grafana-plugin-sdk-go/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// socksListener stands in for Grafana's secure socks proxy: it counts the
// connections it gets and closes them, so a request sent through it fails
// after reaching it.
func socksListener(t *testing.T) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	conns = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), conns
}

// TestSecureSocksProxyFromGrafana: when Grafana enables the secure socks
// proxy and the datasource opts in (jsonData.enableSecureSocksProxy, the
// key of Grafana's own proxy toggle), Tempo and Loki are dialled through the
// proxy, not directly; without the opt-in they are dialled directly. The
// options come from backend.DataSourceInstanceSettings.HTTPClientOptions,
// which reads the proxy configuration Grafana puts in the context.
func TestSecureSocksProxyFromGrafana(t *testing.T) {
	proxyAddr, proxyConns := socksListener(t)
	var direct atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		direct.Add(1)
		_, _ = w.Write([]byte(`{"status":"success","data":[]}`))
	}))
	t.Cleanup(up.Close)
	ctx := config.WithGrafanaConfig(context.Background(), config.NewGrafanaCfg(map[string]string{
		proxy.PluginSecureSocksProxyEnabled:       "true",
		proxy.PluginSecureSocksProxyProxyAddress:  proxyAddr,
		proxy.PluginSecureSocksProxyServerName:    "localhost",
		proxy.PluginSecureSocksProxyAllowInsecure: "true",
	}))

	health := func(optIn bool) *backend.CheckHealthResult {
		t.Helper()
		jd, err := json.Marshal(map[string]any{
			"enableSecureSocksProxy": optIn,
			"tempo":                  map[string]any{"url": up.URL},
			"loki":                   map[string]any{"url": up.URL},
		})
		require.NoError(t, err)
		inst, err := NewDatasource(ctx, backend.DataSourceInstanceSettings{UID: "ds", Name: "tw", JSONData: jd})
		require.NoError(t, err)
		d := inst.(*Datasource)
		t.Cleanup(d.Dispose)
		require.NoError(t, d.settingsErr)
		res, err := d.CheckHealth(ctx, &backend.CheckHealthRequest{})
		require.NoError(t, err)
		return res
	}

	res := health(true)
	assert.Equal(t, backend.HealthStatusError, res.Status, "the stand-in proxy closes every connection: %s", res.Message)
	assert.GreaterOrEqual(t, proxyConns.Load(), int32(2), "Tempo and Loki were both dialled through the proxy")
	assert.Zero(t, direct.Load(), "no request went around the proxy")

	before := proxyConns.Load()
	res = health(false)
	assert.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
	assert.Equal(t, before, proxyConns.Load(), "without the opt-in the proxy is not used")
	assert.NotZero(t, direct.Load())
}

// TestGrafanaOptionsOddJSONData: a top-level "url" that is not a string
// (the SDK asserts it is one) is a settings error on every call, not a
// crash of the instance factory.
func TestGrafanaOptionsOddJSONData(t *testing.T) {
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{
		JSONData: []byte(`{"url": 3200, "tempo": {"url": "http://tempo:3200"}}`)})
	require.NoError(t, err)
	d := inst.(*Datasource)
	t.Cleanup(d.Dispose)
	require.Error(t, d.settingsErr)
	res, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	assert.Contains(t, res.Message, "top-level")
}

// Package e2e holds in-process tests that run several demo services
// together (go-proxy → go-api → a stand-in rails-api) on httptest servers.
package e2e

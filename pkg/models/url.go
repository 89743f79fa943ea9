package models

import (
	"fmt"
	"net/url"
	"strings"
)

// UpstreamURL checks the base URL of an HTTP upstream (setting field, e.g.
// "tempo.url"; example, a good value for the error message) and returns it
// without a trailing slash, query or fragment. Credentials in the URL are
// refused: they belong in basicAuthUser and secureJsonData, where they are
// kept secret and redacted, not in jsonData, which Grafana shows and logs.
// The error wraps ErrInvalidSettings and names the field. Validate applies
// the same rules to the settings; the clients check again so that a client
// built from unvalidated settings cannot send credentials around.
func UpstreamURL(field, raw, example string) (*url.URL, error) {
	u, problem := parseUpstreamURL(raw, example)
	if problem != "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalidSettings, field, problem)
	}
	return u, nil
}

// parseUpstreamURL is UpstreamURL without the field: the URL, or what is wrong with it.
func parseUpstreamURL(raw, example string) (*url.URL, string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, "is empty"
	}
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		// Checked first: the other message quotes the URL.
		return nil, "put credentials in basicAuthUser and the secure password field, not in the URL"
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Sprintf("%q is not an http(s) URL such as %s", clip(raw), example)
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), strings.TrimRight(u.RawPath, "/")
	return u, ""
}

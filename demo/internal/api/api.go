// Package api is go-api: the demo's Go API tier. It reads and writes
// MySQL, caches in Redis and calls rails-api, all traced with OpenTelemetry,
// and logs with the trace and span ID of the current span.
package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/demo/internal/httpx"
	"github.com/traceweave/traceweave/demo/internal/otelsetup"
)

// Defaults for Config fields left zero.
const (
	DefaultSlowQuery    = 1500 * time.Millisecond
	DefaultFlakyTimeout = 20 * time.Millisecond
	DefaultUserCacheTTL = 30 * time.Second
	DefaultRailsTimeout = 10 * time.Second
)

// Config holds go-api's dependencies. DB and Redis may be nil (endpoints
// that need them then answer 503), which keeps handlers constructible in
// tests that only exercise propagation.
type Config struct {
	DB             *sql.DB
	Redis          *redis.Client
	RailsURL       string
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator // default otelsetup.NewPropagator()
	Logger         *slog.Logger
	// RailsTransport is the base transport under the otelhttp one.
	RailsTransport http.RoundTripper
	SlowQuery      time.Duration // GET /slow runs SELECT SLEEP(SlowQuery)
	FlakyTimeout   time.Duration // GET /flaky-cache's Redis call deadline
	UserCacheTTL   time.Duration
}

type server struct {
	cfg   Config
	log   *slog.Logger
	rails *http.Client
}

// New returns go-api's handler, wrapped in otelhttp (spans named by route).
func New(cfg Config) http.Handler {
	if cfg.Propagator == nil {
		cfg.Propagator = otelsetup.NewPropagator()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SlowQuery <= 0 {
		cfg.SlowQuery = DefaultSlowQuery
	}
	if cfg.FlakyTimeout <= 0 {
		cfg.FlakyTimeout = DefaultFlakyTimeout
	}
	if cfg.UserCacheTTL <= 0 {
		cfg.UserCacheTTL = DefaultUserCacheTTL
	}
	base := cfg.RailsTransport
	if base == nil {
		base = http.DefaultTransport
	}
	cfg.RailsURL = strings.TrimRight(cfg.RailsURL, "/")
	s := &server{
		cfg: cfg,
		log: cfg.Logger,
		rails: &http.Client{
			Timeout: DefaultRailsTimeout,
			Transport: otelhttp.NewTransport(base,
				otelhttp.WithTracerProvider(cfg.TracerProvider),
				otelhttp.WithPropagators(cfg.Propagator),
				otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
					return "rails-api " + r.Method + " " + r.URL.Path
				}),
			),
		},
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /users/{id}", s.getUser)
	mux.HandleFunc("POST /orders", s.createOrder)
	mux.HandleFunc("GET /orders", s.listOrders)
	mux.HandleFunc("GET /slow", s.slow)
	mux.HandleFunc("GET /flaky-cache", s.flakyCache)

	return otelhttp.NewHandler(s.accessLog(mux), "go-api",
		otelhttp.WithTracerProvider(cfg.TracerProvider),
		otelhttp.WithPropagators(cfg.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method
		}),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }),
	)
}

// accessLog logs one line per request, inside the server span.
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := httpx.NewStatusWriter(w)
		next.ServeHTTP(sw, r)
		lvl := slog.LevelInfo
		switch {
		case sw.Status >= 500:
			lvl = slog.LevelError
		case sw.Status >= 400:
			lvl = slog.LevelWarn
		}
		s.log.Log(r.Context(), lvl, "request completed",
			"method", r.Method, "path", r.URL.RequestURI(), "route", r.Pattern,
			"status", sw.Status, "duration_ms", time.Since(start).Milliseconds())
	})
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte("ok\n"))
}

// User is a row of the users table.
type User struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.log.WarnContext(ctx, "bad user id", "id", r.PathValue("id"))
		writeJSON(w, http.StatusBadRequest, errBody("user id must be a positive integer"))
		return
	}
	if !s.need(w, r, true, false) {
		return
	}
	key := fmt.Sprintf("user:%d", id)
	if s.cfg.Redis != nil {
		cached, err := s.cfg.Redis.Get(ctx, key).Bytes()
		switch {
		case err == nil:
			s.log.InfoContext(ctx, "user cache hit", "user_id", id, "cache_key", key)
			w.Header().Set("X-Cache", "hit")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(cached)
			return
		case errors.Is(err, redis.Nil):
			s.log.InfoContext(ctx, "user cache miss", "user_id", id, "cache_key", key)
		default:
			s.log.WarnContext(ctx, "user cache read failed, falling back to mysql", "user_id", id, "error", err.Error())
		}
	}

	var u User
	err = s.cfg.DB.QueryRowContext(ctx, "SELECT id, name, email FROM users WHERE id = ?", id).Scan(&u.ID, &u.Name, &u.Email)
	if errors.Is(err, sql.ErrNoRows) {
		s.log.WarnContext(ctx, "user not found", "user_id", id)
		writeJSON(w, http.StatusNotFound, errBody("user not found"))
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "user query failed", "user_id", id, "error", err.Error())
		writeJSON(w, http.StatusInternalServerError, errBody("database error"))
		return
	}
	body, _ := json.Marshal(u)
	if s.cfg.Redis != nil {
		if err := s.cfg.Redis.Set(ctx, key, body, s.cfg.UserCacheTTL).Err(); err != nil {
			s.log.WarnContext(ctx, "user cache write failed", "user_id", id, "error", err.Error())
		}
	}
	s.log.InfoContext(ctx, "user loaded from mysql", "user_id", id)
	w.Header().Set("X-Cache", "miss")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// OrderRequest is the body of POST /orders.
type OrderRequest struct {
	UserID   int64  `json:"user_id"`
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
}

func (s *server) createOrder(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req OrderRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		s.log.WarnContext(ctx, "bad order body", "error", err.Error())
		writeJSON(w, http.StatusBadRequest, errBody("invalid JSON body"))
		return
	}
	if req.Quantity <= 0 {
		req.Quantity = 1
	}
	if req.UserID <= 0 || req.Item == "" {
		writeJSON(w, http.StatusBadRequest, errBody("user_id and item are required"))
		return
	}
	if !s.need(w, r, true, false) {
		return
	}
	traceID, _ := otelsetup.TraceIDs(ctx)
	res, err := s.cfg.DB.ExecContext(ctx,
		"INSERT INTO order_requests (user_id, item, quantity, trace_id) VALUES (?, ?, ?, ?)",
		req.UserID, req.Item, req.Quantity, traceID)
	if err != nil {
		s.log.ErrorContext(ctx, "order request insert failed", "user_id", req.UserID, "error", err.Error())
		writeJSON(w, http.StatusInternalServerError, errBody("database error"))
		return
	}
	reqID, _ := res.LastInsertId()
	s.log.InfoContext(ctx, "order request recorded", "order_request_id", reqID, "user_id", req.UserID, "item", req.Item)

	payload, _ := json.Marshal(map[string]any{
		"user_id": req.UserID, "item": req.Item, "quantity": req.Quantity, "request_id": reqID,
	})
	s.forwardRails(w, r, http.MethodPost, "/orders", payload, req.UserID)
}

func (s *server) listOrders(w http.ResponseWriter, r *http.Request) {
	path := "/orders"
	if r.URL.Query().Get("fail") == "1" {
		path = "/fail"
		s.log.InfoContext(r.Context(), "asked to fail: calling rails-api /fail")
	}
	s.forwardRails(w, r, http.MethodGet, path, nil, 0)
}

// forwardRails calls rails-api and relays its answer; a Rails 5xx or an
// unreachable Rails becomes 502.
func (s *server) forwardRails(w http.ResponseWriter, r *http.Request, method, path string, body []byte, userID int64) {
	ctx := r.Context()
	if s.cfg.RailsURL == "" {
		writeJSON(w, http.StatusServiceUnavailable, errBody("rails-api not configured"))
		return
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.cfg.RailsURL+path, rd)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errBody(err.Error()))
		return
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if userID > 0 {
		req.Header.Set("X-User-Id", strconv.FormatInt(userID, 10))
	}
	start := time.Now()
	resp, err := s.rails.Do(req)
	if err != nil {
		s.log.ErrorContext(ctx, "rails-api call failed", "method", method, "path", path, "error", err.Error())
		writeJSON(w, http.StatusBadGateway, errBody("rails-api unreachable"))
		return
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	attrs := []any{"method", method, "path", path, "status", resp.StatusCode, "duration_ms", time.Since(start).Milliseconds()}
	if resp.StatusCode >= 500 {
		s.log.ErrorContext(ctx, "rails-api returned an error", attrs...)
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": "rails-api error", "upstream_status": resp.StatusCode})
		return
	}
	s.log.InfoContext(ctx, "rails-api answered", attrs...)
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

func (s *server) slow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.need(w, r, true, false) {
		return
	}
	secs := s.cfg.SlowQuery.Seconds()
	s.log.InfoContext(ctx, "running slow query", "sleep_seconds", secs)
	start := time.Now()
	var res int
	if err := s.cfg.DB.QueryRowContext(ctx, "SELECT SLEEP(?)", secs).Scan(&res); err != nil {
		s.log.ErrorContext(ctx, "slow query failed", "error", err.Error())
		writeJSON(w, http.StatusInternalServerError, errBody("database error"))
		return
	}
	took := time.Since(start)
	s.log.WarnContext(ctx, "slow query finished", "duration_ms", took.Milliseconds())
	writeJSON(w, http.StatusOK, map[string]any{"slept_seconds": secs, "duration_ms": took.Milliseconds()})
}

// flakyCache makes a blocking Redis call (BLPOP on a list nobody fills)
// under a deadline far shorter than the block: it always times out.
func (s *server) flakyCache(w http.ResponseWriter, r *http.Request) {
	if !s.need(w, r, false, true) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.FlakyTimeout)
	defer cancel()
	err := s.cfg.Redis.BLPop(ctx, time.Second, "demo:flaky-cache").Err()
	if err == nil || errors.Is(err, redis.Nil) {
		s.log.InfoContext(r.Context(), "flaky cache answered in time")
		writeJSON(w, http.StatusOK, map[string]any{"cache": "ok"})
		return
	}
	s.log.ErrorContext(r.Context(), "cache call timed out", "timeout_ms", s.cfg.FlakyTimeout.Milliseconds(), "error", err.Error())
	writeJSON(w, http.StatusServiceUnavailable, errBody("cache timeout"))
}

// need answers 503 when a required backend is not configured.
func (s *server) need(w http.ResponseWriter, r *http.Request, db, rdb bool) bool {
	if db && s.cfg.DB == nil {
		s.log.ErrorContext(r.Context(), "mysql not configured")
		writeJSON(w, http.StatusServiceUnavailable, errBody("mysql not configured"))
		return false
	}
	if rdb && s.cfg.Redis == nil {
		s.log.ErrorContext(r.Context(), "redis not configured")
		writeJSON(w, http.StatusServiceUnavailable, errBody("redis not configured"))
		return false
	}
	return true
}

func errBody(msg string) map[string]string { return map[string]string{"error": msg} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

package api

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/go-sql-driver/mysql" // also registers driver "mysql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys the plugin's tier rules read. Both the current
// (db.system.name, db.query.text) and the older (db.system, db.statement)
// semantic-convention keys are set on database spans.
const (
	AttrDBSystem     = "db.system"
	AttrDBSystemName = "db.system.name"
	AttrDBStatement  = "db.statement"
	AttrDBQueryText  = "db.query.text"
)

// OpenDB opens MySQL/MariaDB through otelsql: one client span per query/exec
// with db.system(.name)=mysql and the statement text.
//
// The DSN gets interpolateParams=true: without it the driver answers a query
// with arguments by driver.ErrSkip and database/sql retries it as a prepared
// statement, which otelsql would record as two spans for one statement.
func OpenDB(dsn string, tp trace.TracerProvider) (*sql.DB, error) {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse MYSQL_DSN: %w", err)
	}
	mc.InterpolateParams = true
	db, err := otelsql.Open("mysql", mc.FormatDSN(),
		otelsql.WithTracerProvider(tp),
		otelsql.WithAttributes(
			attribute.String(AttrDBSystem, "mysql"),
			attribute.String(AttrDBSystemName, "mysql"),
		),
		// db.query.text comes from otelsql; add the legacy key too.
		otelsql.WithAttributesGetter(func(_ context.Context, _ otelsql.Method, query string, _ []driver.NamedValue) []attribute.KeyValue {
			if query == "" {
				return nil
			}
			return []attribute.KeyValue{attribute.String(AttrDBStatement, query)}
		}),
		otelsql.WithSpanNameFormatter(spanName),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			DisableErrSkip:       true,
			OmitConnResetSession: true,
			OmitRows:             true,
			OmitConnPrepare:      true, // the stmt.query/exec span that follows carries the statement
			OmitConnectorConnect: true,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(5)
	db.SetConnMaxLifetime(5 * time.Minute)
	return db, nil
}

// spanName names a database span "mysql <OPERATION>" (e.g. "mysql SELECT"),
// or after the database/sql method when there is no statement.
func spanName(_ context.Context, method otelsql.Method, query string) string {
	if op, _, _ := strings.Cut(strings.TrimSpace(query), " "); op != "" {
		return "mysql " + strings.ToUpper(op)
	}
	return string(method)
}

// OpenRedis returns a go-redis v9 client with the redisotel tracing hook
// (spans carry db.system=redis and db.statement). Context deadlines are
// honoured so that a tiny timeout really fails a call.
func OpenRedis(addr string, tp trace.TracerProvider) (*redis.Client, error) {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           2 * time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
	})
	if err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(tp),
		redisotel.WithAttributes(attribute.String(AttrDBSystemName, "redis")),
		redisotel.WithDBStatement(true),
		redisotel.WithCallerEnabled(false),
	); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("instrument redis: %w", err)
	}
	return rdb, nil
}

# frozen_string_literal: true

# Traces go over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT
# (http://otel-collector:4318 in compose); W3C trace context and baggage are
# the default propagators, matching the Go services.
require "opentelemetry/sdk"
require "opentelemetry/exporter/otlp"
require "opentelemetry/instrumentation/all"

OpenTelemetry::SDK.configure do |c|
  c.service_name = "rails-api"
  # Keep SQL and Redis statements readable in the demo (the default obfuscates).
  c.use_all(
    "OpenTelemetry::Instrumentation::Rack" => { untraced_endpoints: ["/healthz"] },
    "OpenTelemetry::Instrumentation::Mysql2" => { db_statement: :include },
    "OpenTelemetry::Instrumentation::Redis" => { db_statement: :include }
  )
end

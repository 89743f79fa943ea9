# frozen_string_literal: true

require "opentelemetry"

# Hex IDs of the current OpenTelemetry span, for log lines.
module TraceContext
  module_function

  # => [trace_id (32 hex), span_id (16 hex)] or [nil, nil] outside a span.
  def ids
    context = OpenTelemetry::Trace.current_span.context
    return [nil, nil] unless context.valid?

    [context.hex_trace_id, context.hex_span_id]
  end
end

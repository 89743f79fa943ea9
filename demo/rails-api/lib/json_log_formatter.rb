# frozen_string_literal: true

require "json"
require "logger"
require "time"

# Formats every Rails log line as one JSON object with the trace_id and
# span_id of the current span. A Hash message is merged into the object.
class JsonLogFormatter < ::Logger::Formatter
  def call(severity, time, progname, msg)
    trace_id, span_id = TraceContext.ids
    entry = {
      time: time.utc.iso8601(6),
      level: severity.to_s.downcase,
      service: "rails-api",
      trace_id: trace_id,
      span_id: span_id
    }
    entry[:progname] = progname if progname
    case msg
    when Hash then entry.merge!(msg)
    when Exception then entry.merge!(message: msg.message, error: msg.class.name)
    else entry[:message] = msg.to_s.strip
    end
    "#{JSON.generate(entry.compact)}\n"
  end
end

# frozen_string_literal: true

require "fileutils"
require "json"

# Appends audit events as JSON lines to AUDIT_LOG (default
# /var/log/demo/audit.log), which the collector tails and ships to Kafka:
#   {"time":..., "level":"info", "trace_id":..., "span_id":..., "user":..., "action":..., "message":...}
class AuditLog
  PATH = ENV.fetch("AUDIT_LOG", "/var/log/demo/audit.log")
  LOCK = Mutex.new

  def self.write(action:, message:, user: nil, level: "info")
    trace_id, span_id = TraceContext.ids
    line = JSON.generate(
      time: Time.now.utc.iso8601(6),
      level: level,
      trace_id: trace_id,
      span_id: span_id,
      user: user&.to_s,
      action: action,
      message: message
    )
    LOCK.synchronize do
      FileUtils.mkdir_p(File.dirname(PATH))
      File.open(PATH, "a") { |f| f.write("#{line}\n") }
    end
  rescue SystemCallError => e
    Rails.logger.warn("audit log not written to #{PATH}: #{e.message}")
  end
end

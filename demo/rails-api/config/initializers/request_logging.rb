# frozen_string_literal: true

# Lograge-style request log: one JSON line per request (through the JSON
# formatter, so it carries trace_id/span_id), replacing Rails' multi-line
# "Processing/Completed" output.
ActiveSupport.on_load(:action_controller) do
  ActionController::LogSubscriber.detach_from :action_controller
end

ActiveSupport::Notifications.subscribe("process_action.action_controller") do |event|
  payload = event.payload
  status = payload[:status]
  status ||= 500 if payload[:exception]
  entry = {
    event: "request",
    method: payload[:method],
    path: payload[:path],
    controller: payload[:controller],
    action: payload[:action],
    status: status,
    duration_ms: event.duration.round(2),
    db_ms: payload[:db_runtime]&.round(2),
    error: payload[:exception]&.join(": ")
  }.compact
  level = status.to_i >= 500 ? :error : :info
  Rails.logger.public_send(level, entry)
end

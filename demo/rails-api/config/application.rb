# frozen_string_literal: true

require_relative "boot"

require "rails"
require "active_model/railtie"
require "active_record/railtie"
require "action_controller/railtie"

Bundler.require(*Rails.groups)

require_relative "../lib/trace_context"
require_relative "../lib/json_log_formatter"

module RailsApi
  class Application < Rails::Application
    config.load_defaults 8.0
    config.api_only = true

    config.time_zone = "UTC"
    config.active_record.default_timezone = :utc

    # Inside the compose network the host is "rails-api".
    config.hosts.clear

    # JSON logs on stdout, each line with trace_id/span_id of the current span.
    logger = ActiveSupport::Logger.new($stdout)
    logger.formatter = JsonLogFormatter.new
    config.logger = logger
    config.log_level = ENV.fetch("RAILS_LOG_LEVEL", "info")
  end
end

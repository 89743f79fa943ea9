# frozen_string_literal: true

threads_count = ENV.fetch("RAILS_MAX_THREADS", 5).to_i
threads threads_count, threads_count
port ENV.fetch("PORT", 3000)
# Single mode (no forked workers): the OpenTelemetry SDK's export thread
# lives in this one process.

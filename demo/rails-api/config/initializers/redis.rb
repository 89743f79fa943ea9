# frozen_string_literal: true

# One client for the app (redis-rb 5 clients are thread-safe).
REDIS = Redis.new(url: ENV.fetch("REDIS_URL", "redis://redis:6379/0"), timeout: 1.0)

# frozen_string_literal: true

# GET /fail always raises, so Rails answers 500 and the span records the error.
class FailuresController < ApplicationController
  class SimulatedFailure < StandardError; end

  def show
    AuditLog.write(user: current_user_id, action: "fail", level: "error",
                   message: "simulated failure requested")
    Rails.logger.error("about to raise a simulated failure")
    raise SimulatedFailure, "simulated failure for the Traceweave demo"
  end
end

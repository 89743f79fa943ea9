# frozen_string_literal: true

class ApplicationController < ActionController::API
  # Read JSON bodies as top-level params (no params[:order] wrapper).
  wrap_parameters format: []

  private

  # go-api passes the user in X-User-Id.
  def current_user_id
    request.headers["X-User-Id"].presence || params[:user_id].presence
  end
end

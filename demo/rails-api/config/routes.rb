# frozen_string_literal: true

Rails.application.routes.draw do
  resources :orders, only: %i[index create]

  # Always raises: go-api GET /orders?fail=1 calls this to produce a Rails 500.
  get "/fail", to: "failures#show"

  get "/healthz", to: proc { [200, { "content-type" => "text/plain" }, ["ok\n"]] }
end

# frozen_string_literal: true

class OrdersController < ApplicationController
  RECENT_KEY = "orders:recent"
  RECENT_TTL = 15 # seconds

  # GET /orders: the 20 latest orders, cached in Redis.
  def index
    cached = REDIS.get(RECENT_KEY)
    orders =
      if cached
        JSON.parse(cached)
      else
        Order.order(id: :desc).limit(20).as_json.tap do |list|
          REDIS.set(RECENT_KEY, list.to_json, ex: RECENT_TTL)
        end
      end
    Rails.logger.info("listed #{orders.size} orders (cache #{cached ? 'hit' : 'miss'})")
    AuditLog.write(user: current_user_id, action: "orders.list", message: "listed #{orders.size} orders")
    render json: orders
  end

  # POST /orders {"user_id":1,"item":"keyboard","quantity":1,"request_id":7}
  def create
    order = Order.create!(order_params.merge(status: "created"))
    REDIS.del(RECENT_KEY)
    Rails.logger.info("created order #{order.id}")
    AuditLog.write(user: order.user_id, action: "orders.create",
                   message: "created order #{order.id}: #{order.quantity} x #{order.item}")
    render json: order, status: :created
  rescue ActiveRecord::RecordInvalid => e
    AuditLog.write(user: current_user_id, action: "orders.create", level: "warn",
                   message: "rejected order: #{e.record.errors.full_messages.join(', ')}")
    render json: { error: e.record.errors.full_messages }, status: :unprocessable_entity
  end

  private

  def order_params
    params.permit(:user_id, :item, :quantity, :request_id)
  end
end

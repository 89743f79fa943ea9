# frozen_string_literal: true

# Table "orders" from demo/sql/init.sql.
class Order < ApplicationRecord
  validates :user_id, :item, presence: true
  validates :quantity, numericality: { only_integer: true, greater_than: 0 }
end

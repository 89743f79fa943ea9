-- Traceweave demo schema and seed data (MySQL 8 / MariaDB 10.6+).
-- Idempotent: safe to load more than once. Compose mounts this file into
-- /docker-entrypoint-initdb.d; demo/scripts/start-test-dbs.sh loads it for tests.

CREATE DATABASE IF NOT EXISTS demo CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE demo;

-- Read by go-api GET /users/{id} (cached in Redis as user:<id>).
CREATE TABLE IF NOT EXISTS users (
  id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(100) NOT NULL,
  email      VARCHAR(255) NOT NULL,
  created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Written by go-api POST /orders before it calls rails-api (keeps the trace ID).
CREATE TABLE IF NOT EXISTS order_requests (
  id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id    BIGINT       NOT NULL,
  item       VARCHAR(100) NOT NULL,
  quantity   INT          NOT NULL DEFAULT 1,
  trace_id   CHAR(32)     NULL,
  created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY order_requests_trace_id (trace_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Rails' Order model (rails-api OrdersController#index/#create).
CREATE TABLE IF NOT EXISTS orders (
  id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id    BIGINT       NOT NULL,
  item       VARCHAR(100) NOT NULL,
  quantity   INT          NOT NULL DEFAULT 1,
  status     VARCHAR(20)  NOT NULL DEFAULT 'created',
  request_id BIGINT       NULL,
  created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY orders_user_id (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO users (id, name, email) VALUES
  (1,  'Ada Lovelace',      'ada@example.com'),
  (2,  'Alan Turing',       'alan@example.com'),
  (3,  'Grace Hopper',      'grace@example.com'),
  (4,  'Edsger Dijkstra',   'edsger@example.com'),
  (5,  'Barbara Liskov',    'barbara@example.com'),
  (6,  'Donald Knuth',      'donald@example.com'),
  (7,  'Margaret Hamilton', 'margaret@example.com'),
  (8,  'Ken Thompson',      'ken@example.com'),
  (9,  'Dennis Ritchie',    'dennis@example.com'),
  (10, 'Frances Allen',     'frances@example.com'),
  (11, 'John McCarthy',     'john@example.com'),
  (12, 'Radia Perlman',     'radia@example.com'),
  (13, 'Leslie Lamport',    'leslie@example.com'),
  (14, 'Shafi Goldwasser',  'shafi@example.com'),
  (15, 'Tony Hoare',        'tony@example.com'),
  (16, 'Karen Sparck Jones','karen@example.com'),
  (17, 'Niklaus Wirth',     'niklaus@example.com'),
  (18, 'Adele Goldberg',    'adele@example.com'),
  (19, 'Rob Pike',          'rob@example.com'),
  (20, 'Sophie Wilson',     'sophie@example.com');

INSERT IGNORE INTO orders (id, user_id, item, quantity, status) VALUES
  (1, 1, 'keyboard', 1, 'shipped'),
  (2, 2, 'monitor',  2, 'shipped'),
  (3, 3, 'mouse',    1, 'created'),
  (4, 5, 'headset',  1, 'created'),
  (5, 8, 'dock',     3, 'created');

-- A database as the original Python system leaves it: the schema of its
-- db/init_schema.sql, the five products (one headphone sold), an order it
-- processed, one it failed (no reason, no processed_at), and one it left
-- PENDING with no created_at. Used by engine/tests/original_system.rs and
-- sim/tests/original_system.rs.
CREATE TABLE inventory (
    product_id VARCHAR(255) PRIMARY KEY,
    product_name VARCHAR(255) NOT NULL,
    quantity_available INT NOT NULL
);
CREATE TABLE orders (
    order_id VARCHAR(36) PRIMARY KEY,
    customer_id VARCHAR(255) NOT NULL,
    items JSON NOT NULL,
    status ENUM('PENDING','PROCESSED','FAILED') NOT NULL DEFAULT 'PENDING',
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    processed_at DATETIME NULL
);
INSERT INTO inventory (product_id, product_name, quantity_available) VALUES
    ('prod-101', 'Wireless Headphones', 49),
    ('prod-102', 'Mechanical Keyboard', 20),
    ('prod-103', 'Gaming Mouse', 35),
    ('prod-104', 'USB-C Monitor', 10),
    ('prod-105', 'Ergonomic Chair', 5);
INSERT INTO orders VALUES
    ('3b1f16d4-37da-40c2-a24a-92dfc3636d4b', 'test_user_001',
     '[{"product_id": "prod-101", "quantity": 1}]', 'PROCESSED',
     '2026-02-13 10:00:00', '2026-02-13 10:00:05');
INSERT INTO orders (order_id, customer_id, items, status) VALUES
    ('9a0c5e44-1d3b-4f6e-9c2a-7b8d1e2f3a4b', 'greedy_user_003',
     '[{"product_id": "prod-102", "quantity": 9999}]', 'FAILED');
INSERT INTO orders VALUES
    ('5c8e2b1a-6f4d-4e3c-8b2a-1d0e9f8a7b6c', 'slow_user_004',
     '[{"product_id": "prod-103", "quantity": 2}]', 'PENDING', NULL, NULL);

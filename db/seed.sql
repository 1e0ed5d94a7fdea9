-- The original system's five products. The engine inserts the same rows itself into an
-- empty inventory; this file is for loading them by hand (mysql < db/seed.sql).
INSERT IGNORE INTO inventory (product_id, product_name, quantity_available) VALUES
    ('prod-101', 'Wireless Headphones', 50),
    ('prod-102', 'Mechanical Keyboard', 20),
    ('prod-103', 'Gaming Mouse', 35),
    ('prod-104', 'USB-C Monitor', 10),
    ('prod-105', 'Ergonomic Chair', 5);

-- Brings a database created by the original Python system to this schema in
-- place, keeping every row. Its tables were made by its db/init_schema.sql:
--   inventory(product_id VARCHAR(255) PK, product_name VARCHAR(255) NOT NULL,
--             quantity_available INT NOT NULL)
--   orders(order_id VARCHAR(36) PK, customer_id VARCHAR(255) NOT NULL,
--          items JSON NOT NULL, status ENUM('PENDING','PROCESSED','FAILED')
--          NOT NULL DEFAULT 'PENDING', created_at DATETIME DEFAULT
--          CURRENT_TIMESTAMP, processed_at DATETIME NULL)
-- and 0001 (CREATE TABLE IF NOT EXISTS) leaves them as they are. Each step
-- below looks at information_schema first and changes only what differs, so
-- on a database this project created the whole file changes nothing.
-- (MySQL has no ADD COLUMN IF NOT EXISTS; a statement prepared when a query
-- says so, by a procedure that lives only while this file runs, is the form
-- both MySQL 8 and MariaDB run.)
--
-- What changes, and why:
--  * orders.failure_reason is added (NULL for the original's FAILED orders,
--    which recorded no reason);
--  * orders.status becomes VARCHAR(16) with a CHECK of the three statuses
--    (the same values the ENUM allowed);
--  * orders.created_at becomes DATETIME(3) NOT NULL, a NULL taking the
--    order's processed_at or, failing that, the time of this migration; it
--    keeps a default of the current time, so the original's processor can
--    still insert while the two run side by side;
--  * orders.processed_at becomes DATETIME(3) (milliseconds, as events carry);
--  * both tables take the utf8mb4_bin collation, so ids compare byte for byte
--    as they do in the engine;
--  * inventory gets the CHECK (quantity_available >= 0) that makes the
--    database itself refuse an oversell (this step fails, naming the
--    constraint, if a product already stands below zero: fix its stock first);
--  * orders gets the indexes on created_at and processed_at.
-- Wider columns (VARCHAR(255) ids) are kept: every id the engine accepts fits.

-- Left behind if a run of this file stopped part way.
DROP PROCEDURE IF EXISTS orderflow_0003_when;

CREATE PROCEDURE orderflow_0003_when(needed BOOLEAN, ddl TEXT)
BEGIN
    IF needed THEN
        SET @orderflow_ddl = ddl;
        PREPARE orderflow_stmt FROM @orderflow_ddl;
        EXECUTE orderflow_stmt;
        DEALLOCATE PREPARE orderflow_stmt;
    END IF;
END;

CALL orderflow_0003_when(
    NOT EXISTS (SELECT 1 FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = 'orders' AND column_name = 'failure_reason'),
    'ALTER TABLE orders ADD COLUMN failure_reason VARCHAR(32) NULL AFTER status');

CALL orderflow_0003_when(
    EXISTS (SELECT 1 FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = 'orders' AND column_name = 'status'
          AND data_type = 'enum'),
    'ALTER TABLE orders MODIFY status VARCHAR(16) NOT NULL DEFAULT ''PENDING''');

UPDATE orders SET created_at = COALESCE(processed_at, UTC_TIMESTAMP()) WHERE created_at IS NULL;

CALL orderflow_0003_when(
    EXISTS (SELECT 1 FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = 'orders' AND column_name = 'created_at'
          AND (is_nullable = 'YES' OR datetime_precision <> 3)),
    'ALTER TABLE orders MODIFY created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');

CALL orderflow_0003_when(
    EXISTS (SELECT 1 FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = 'orders' AND column_name = 'processed_at'
          AND datetime_precision <> 3),
    'ALTER TABLE orders MODIFY processed_at DATETIME(3) NULL');

CALL orderflow_0003_when(
    EXISTS (SELECT 1 FROM information_schema.tables
        WHERE table_schema = DATABASE() AND table_name = 'orders' AND table_collation <> 'utf8mb4_bin'),
    'ALTER TABLE orders CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');

CALL orderflow_0003_when(
    EXISTS (SELECT 1 FROM information_schema.tables
        WHERE table_schema = DATABASE() AND table_name = 'inventory' AND table_collation <> 'utf8mb4_bin'),
    'ALTER TABLE inventory CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');

CALL orderflow_0003_when(
    NOT EXISTS (SELECT 1 FROM information_schema.check_constraints
        WHERE constraint_schema = DATABASE() AND constraint_name = 'orders_status'),
    'ALTER TABLE orders ADD CONSTRAINT orders_status CHECK (status IN (''PENDING'', ''PROCESSED'', ''FAILED''))');

CALL orderflow_0003_when(
    NOT EXISTS (SELECT 1 FROM information_schema.check_constraints
        WHERE constraint_schema = DATABASE() AND constraint_name = 'inventory_no_oversell'),
    'ALTER TABLE inventory ADD CONSTRAINT inventory_no_oversell CHECK (quantity_available >= 0)');

CALL orderflow_0003_when(
    NOT EXISTS (SELECT 1 FROM information_schema.statistics
        WHERE table_schema = DATABASE() AND table_name = 'orders' AND index_name = 'orders_processed_at'),
    'ALTER TABLE orders ADD KEY orders_processed_at (processed_at)');

CALL orderflow_0003_when(
    NOT EXISTS (SELECT 1 FROM information_schema.statistics
        WHERE table_schema = DATABASE() AND table_name = 'orders' AND index_name = 'orders_created_at'),
    'ALTER TABLE orders ADD KEY orders_created_at (created_at)');

DROP PROCEDURE orderflow_0003_when;

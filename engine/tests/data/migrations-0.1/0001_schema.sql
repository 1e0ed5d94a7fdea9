-- orderflow schema. Runs on MySQL 8 and MariaDB 10.11; applied on start by
-- sqlx (embedded in the engine), and by docker-compose's MySQL at first boot.
-- Every statement is idempotent so both paths can meet the same database.

CREATE TABLE IF NOT EXISTS inventory (
    product_id          VARCHAR(64)  NOT NULL,
    product_name        VARCHAR(255) NOT NULL,
    quantity_available  INT          NOT NULL,
    PRIMARY KEY (product_id),
    -- The processor never oversells; this makes the database refuse it too.
    CONSTRAINT inventory_no_oversell CHECK (quantity_available >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS orders (
    order_id        CHAR(36)     NOT NULL,
    customer_id     VARCHAR(128) NOT NULL,
    items           JSON         NOT NULL,
    status          VARCHAR(16)  NOT NULL,
    failure_reason  VARCHAR(32)  NULL,
    -- Accept time, from OrderCreated.timestamp.
    created_at      DATETIME(3)  NOT NULL,
    -- Commit time of the outcome.
    processed_at    DATETIME(3)  NULL,
    PRIMARY KEY (order_id),
    KEY orders_processed_at (processed_at),
    KEY orders_created_at (created_at),
    CONSTRAINT orders_status CHECK (status IN ('PENDING', 'PROCESSED', 'FAILED'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per order whose notification was dispatched: the notifier inserts
-- here first and dispatches only if the insert was new, so a redelivered
-- OrderProcessed never notifies twice.
CREATE TABLE IF NOT EXISTS notifications (
    order_id     CHAR(36)    NOT NULL,
    status       VARCHAR(16) NOT NULL,
    notified_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (order_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

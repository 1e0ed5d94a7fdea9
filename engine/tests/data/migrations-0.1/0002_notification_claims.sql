-- Notifications become a two-step record: a CLAIMED row before dispatch and
-- SENT after it. The one-step record (insert, then dispatch) lost a
-- notification when the insert committed but its acknowledgement did not
-- reach the notifier (a killed connection): the retry saw the row and
-- skipped the dispatch. Now a claim whose dispatch is in doubt is taken
-- again by the same message, or by anyone once its lease has expired.
-- Idempotent (DROP/CREATE) so docker-compose's init scripts and sqlx can
-- both run it; no release shipped the old table.
DROP TABLE IF EXISTS notifications;

CREATE TABLE notifications (
    order_id    CHAR(36)     NOT NULL,
    status      VARCHAR(16)  NOT NULL,
    -- CLAIMED while a notifier dispatches it, SENT once dispatched.
    state       VARCHAR(8)   NOT NULL,
    -- The queue message whose delivery holds the claim.
    claimed_by  VARCHAR(128) NOT NULL,
    claimed_at  DATETIME(3)  NOT NULL,
    sent_at     DATETIME(3)  NULL,
    PRIMARY KEY (order_id),
    CONSTRAINT notifications_state CHECK (state IN ('CLAIMED', 'SENT'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Notifications become a two-step record: a CLAIMED row before dispatch and
-- SENT after it. The one-step record (insert, then dispatch) lost a
-- notification when the insert committed but its acknowledgement did not
-- reach the notifier (a killed connection): the retry saw the row and
-- skipped the dispatch. Now a claim whose dispatch is in doubt is taken
-- again by the same message, or by anyone once its lease has expired.
--
-- The table changes in place and keeps its rows: each row of the one-step
-- record is a notification sent, so it becomes SENT, claimed and sent when
-- it was notified. The columns end as:
--   order_id, status,
--   state       CLAIMED while a notifier dispatches it, SENT once dispatched
--   claimed_by  the queue message whose delivery holds the claim
--   claimed_at, sent_at
ALTER TABLE notifications
    ADD COLUMN state VARCHAR(8) NOT NULL DEFAULT 'SENT' AFTER status,
    ADD COLUMN claimed_by VARCHAR(128) NOT NULL DEFAULT '' AFTER state,
    ADD COLUMN claimed_at DATETIME(3) NULL AFTER claimed_by,
    CHANGE COLUMN notified_at sent_at DATETIME(3) NULL;

UPDATE notifications SET claimed_at = sent_at;

ALTER TABLE notifications
    ALTER COLUMN state DROP DEFAULT,
    ALTER COLUMN claimed_by DROP DEFAULT,
    MODIFY claimed_at DATETIME(3) NOT NULL,
    ADD CONSTRAINT notifications_state CHECK (state IN ('CLAIMED', 'SENT'));

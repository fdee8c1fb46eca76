-- Refused reports are events too: a signed notification (or query answer) for a trade we
-- do not know has no order, so order_id may be NULL; every event names its trade and, when
-- refused, why. SQLite cannot drop a NOT NULL: the table is rebuilt.
CREATE TABLE payment_events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT REFERENCES orders (id),
    out_trade_no TEXT NOT NULL,
    source TEXT NOT NULL,
    trade_status TEXT NOT NULL,
    trade_no TEXT,
    amount_cents BIGINT,
    notify_id TEXT,
    -- paid, closed, duplicate, flagged, ignored, or refused (with a reason)
    outcome TEXT NOT NULL,
    -- refused: unknown_trade or amount_mismatch
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO payment_events_new
    (id, order_id, out_trade_no, source, trade_status, trade_no, amount_cents, notify_id,
     outcome, created_at)
SELECT e.id, e.order_id, o.out_trade_no, e.source, e.trade_status, e.trade_no, e.amount_cents,
       e.notify_id, e.outcome, e.created_at
FROM payment_events e JOIN orders o ON o.id = e.order_id;
DROP TABLE payment_events;
ALTER TABLE payment_events_new RENAME TO payment_events;
CREATE INDEX payment_events_order ON payment_events (order_id);
CREATE INDEX payment_events_outcome_created ON payment_events (outcome, created_at);

DELETE FROM payment_events WHERE order_id IS NULL;
CREATE TABLE payment_events_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    source TEXT NOT NULL,
    trade_status TEXT NOT NULL,
    trade_no TEXT,
    amount_cents BIGINT,
    notify_id TEXT,
    outcome TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO payment_events_old
    (id, order_id, source, trade_status, trade_no, amount_cents, notify_id, outcome, created_at)
SELECT id, order_id, source, trade_status, trade_no, amount_cents, notify_id, outcome, created_at
FROM payment_events;
DROP TABLE payment_events;
ALTER TABLE payment_events_old RENAME TO payment_events;
CREATE INDEX payment_events_order ON payment_events (order_id);

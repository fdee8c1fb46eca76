CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Our trade number at Alipay: unguessable, unique.
    out_trade_no TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL,
    trip_id BIGINT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    refunded_cents BIGINT NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents),
    subject TEXT NOT NULL,
    -- pending -> paid -> refunded, or pending -> closed; never backwards.
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'refunded', 'closed')),
    trade_no TEXT,
    close_reason TEXT,
    -- Set when Alipay reports something our state cannot take (e.g. paid after a close);
    -- payment_events holds what it reported.
    needs_reconciliation BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    paid_at TIMESTAMP,
    closed_at TIMESTAMP,
    last_queried_at TIMESTAMP
);
CREATE INDEX orders_user_created ON orders (user_id, created_at);
CREATE INDEX orders_status_created ON orders (status, created_at);

CREATE TABLE refunds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    out_request_no TEXT NOT NULL UNIQUE,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    reason TEXT,
    -- pending (sent, outcome unknown) -> succeeded | failed
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    failure TEXT,
    requested_by BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX refunds_order ON refunds (order_id);

-- Every verified word from Alipay about an order, and what it did.
CREATE TABLE payment_events (
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
CREATE INDEX payment_events_order ON payment_events (order_id);

-- Purchase signals for recommend-service, written with the payment and delivered until
-- acknowledged (recommend-service is idempotent on the reference).
CREATE TABLE signal_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL,
    trip_id BIGINT NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX signal_outbox_due ON signal_outbox (delivered_at, next_attempt_at);

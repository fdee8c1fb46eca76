-- The Idempotency-Key a client sent with POST /v1/orders, and the order it made: one
-- order per user and key, enforced here so that concurrent submits cannot both insert
-- (the order and its key are written in one transaction).
CREATE TABLE order_idempotency_keys (
    user_id BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    order_id BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);

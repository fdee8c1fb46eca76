DROP TABLE order_idempotency_keys;

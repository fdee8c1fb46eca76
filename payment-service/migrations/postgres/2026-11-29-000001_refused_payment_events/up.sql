-- Refused reports are events too: a signed notification (or query answer) for a trade we
-- do not know has no order, so order_id may be NULL; every event names its trade and, when
-- refused, why.
ALTER TABLE payment_events ALTER COLUMN order_id DROP NOT NULL;
ALTER TABLE payment_events ADD COLUMN out_trade_no TEXT;
UPDATE payment_events e SET out_trade_no = o.out_trade_no FROM orders o WHERE o.id = e.order_id;
ALTER TABLE payment_events ALTER COLUMN out_trade_no SET NOT NULL;
-- refused: unknown_trade or amount_mismatch
ALTER TABLE payment_events ADD COLUMN reason TEXT;
CREATE INDEX payment_events_outcome_created ON payment_events (outcome, created_at);

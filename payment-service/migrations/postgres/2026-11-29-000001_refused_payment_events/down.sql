DROP INDEX payment_events_outcome_created;
DELETE FROM payment_events WHERE order_id IS NULL;
ALTER TABLE payment_events DROP COLUMN reason;
ALTER TABLE payment_events DROP COLUMN out_trade_no;
ALTER TABLE payment_events ALTER COLUMN order_id SET NOT NULL;

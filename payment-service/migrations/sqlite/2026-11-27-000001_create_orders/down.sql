DROP TABLE signal_outbox;
DROP TABLE payment_events;
DROP TABLE refunds;
DROP TABLE orders;

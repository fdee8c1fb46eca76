// The tables of payment-service; the migrations under `migrations/` create them.

diesel::table! {
    orders (id) {
        id -> BigInt,
        out_trade_no -> Text,
        user_id -> BigInt,
        trip_id -> BigInt,
        quantity -> Integer,
        amount_cents -> BigInt,
        refunded_cents -> BigInt,
        subject -> Text,
        status -> Text,
        trade_no -> Nullable<Text>,
        close_reason -> Nullable<Text>,
        needs_reconciliation -> Bool,
        created_at -> Timestamp,
        paid_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        last_queried_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refunds (id) {
        id -> BigInt,
        order_id -> BigInt,
        out_request_no -> Text,
        amount_cents -> BigInt,
        reason -> Nullable<Text>,
        status -> Text,
        failure -> Nullable<Text>,
        requested_by -> BigInt,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payment_events (id) {
        id -> BigInt,
        order_id -> Nullable<BigInt>,
        out_trade_no -> Text,
        source -> Text,
        trade_status -> Text,
        trade_no -> Nullable<Text>,
        amount_cents -> Nullable<BigInt>,
        notify_id -> Nullable<Text>,
        outcome -> Text,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    signal_outbox (id) {
        id -> BigInt,
        user_id -> BigInt,
        trip_id -> BigInt,
        reference -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    order_idempotency_keys (user_id, idempotency_key) {
        user_id -> BigInt,
        idempotency_key -> Text,
        order_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(refunds -> orders (order_id));
diesel::joinable!(payment_events -> orders (order_id));
diesel::allow_tables_to_appear_in_same_query!(
    orders,
    refunds,
    payment_events,
    signal_outbox,
    order_idempotency_keys
);

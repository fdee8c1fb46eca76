// The tables of recommend-service; the migrations under `migrations/` create them.

diesel::table! {
    trips (id) {
        id -> BigInt,
        title -> Text,
        destination -> Text,
        description -> Text,
        price_cents -> BigInt,
        duration_days -> Integer,
        tags -> Text,
        status -> Text,
        rating_count -> BigInt,
        rating_avg -> Double,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ratings (id) {
        id -> BigInt,
        user_id -> BigInt,
        trip_id -> BigInt,
        score -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    signals (id) {
        id -> BigInt,
        user_id -> BigInt,
        trip_id -> BigInt,
        kind -> Text,
        reference -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(ratings -> trips (trip_id));
diesel::joinable!(signals -> trips (trip_id));
diesel::allow_tables_to_appear_in_same_query!(trips, ratings, signals);

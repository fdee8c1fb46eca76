// The tables of auth-service; the migrations under `migrations/` create them.

diesel::table! {
    users (id) {
        id -> BigInt,
        account -> Text,
        name -> Text,
        email -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        is_disabled -> Bool,
        password_changed_at -> Nullable<Timestamp>,
    }
}

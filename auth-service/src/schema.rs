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

diesel::table! {
    wechat_identities (id) {
        id -> BigInt,
        user_id -> BigInt,
        appid -> Text,
        openid -> Text,
        unionid -> Nullable<Text>,
        nickname -> Text,
        avatar_url -> Nullable<Text>,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(wechat_identities -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, wechat_identities);

// The tables of rbac-service; the migrations under `migrations/` create them.

diesel::table! {
    resources (id) {
        id -> BigInt,
        name -> Text,
        pattern -> Text,
        pattern_key -> Text,
        category -> Text,
        description -> Text,
        is_public -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        built_in -> Bool,
    }
}

diesel::table! {
    permissions (id) {
        id -> BigInt,
        resource_id -> BigInt,
        method -> Text,
        is_public -> Bool,
        created_at -> Timestamp,
        built_in -> Bool,
    }
}

diesel::table! {
    roles (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        built_in -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    role_permissions (role_id, permission_id) {
        role_id -> BigInt,
        permission_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_roles (user_id, role_id) {
        user_id -> BigInt,
        role_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_role_sets (user_id) {
        user_id -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    seeded (item) {
        item -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(permissions -> resources (resource_id));
diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(role_permissions -> permissions (permission_id));
diesel::joinable!(user_roles -> roles (role_id));

diesel::allow_tables_to_appear_in_same_query!(
    resources,
    permissions,
    roles,
    role_permissions,
    user_roles,
    user_role_sets,
    seeded
);

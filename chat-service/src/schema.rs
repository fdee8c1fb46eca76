// The tables of chat-service; the migrations under `migrations/` create them.

diesel::table! {
    conversations (id) {
        id -> BigInt,
        traveller_id -> BigInt,
        expert_id -> BigInt,
        created_at -> Timestamp,
        last_message_at -> Nullable<Timestamp>,
        last_activity_at -> Timestamp,
        last_message_id -> BigInt,
        traveller_last_read_id -> BigInt,
        expert_last_read_id -> BigInt,
        traveller_unread -> BigInt,
        expert_unread -> BigInt,
    }
}

diesel::table! {
    messages (conversation_id, id) {
        conversation_id -> BigInt,
        id -> BigInt,
        sender_id -> BigInt,
        body -> Text,
        client_msg_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(messages -> conversations (conversation_id));
diesel::allow_tables_to_appear_in_same_query!(conversations, messages);

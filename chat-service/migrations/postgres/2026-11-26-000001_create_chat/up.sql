-- One conversation per (traveller, expert). The row also allocates message ids
-- (last_message_id, bumped in the sending transaction: ids are dense and monotonic per
-- conversation) and holds each participant's read marker and unread count.
CREATE TABLE conversations (
    id BIGSERIAL PRIMARY KEY,
    traveller_id BIGINT NOT NULL,
    expert_id BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_message_at TIMESTAMP,
    -- last_message_at, or created_at before the first message: the list's sort key.
    last_activity_at TIMESTAMP NOT NULL,
    last_message_id BIGINT NOT NULL DEFAULT 0,
    traveller_last_read_id BIGINT NOT NULL DEFAULT 0,
    expert_last_read_id BIGINT NOT NULL DEFAULT 0,
    traveller_unread BIGINT NOT NULL DEFAULT 0,
    expert_unread BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT conversations_pair UNIQUE (traveller_id, expert_id),
    CONSTRAINT conversations_two_people CHECK (traveller_id <> expert_id)
);
CREATE INDEX conversations_expert ON conversations (expert_id, last_activity_at);
CREATE INDEX conversations_traveller ON conversations (traveller_id, last_activity_at);

CREATE TABLE messages (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    id BIGINT NOT NULL,
    sender_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    -- The sender's idempotency key; a retry with the same key returns the first message.
    client_msg_id TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (conversation_id, id)
);
CREATE UNIQUE INDEX messages_client_msg_id ON messages (conversation_id, sender_id, client_msg_id);

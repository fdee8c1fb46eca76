CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    account TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- Nullable: accounts created by WeChat sign-in have no e-mail address.
    email TEXT UNIQUE,
    -- Nullable: accounts created by WeChat sign-in have no password.
    password_hash TEXT,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP,
    is_disabled BOOLEAN NOT NULL DEFAULT FALSE,
    password_changed_at TIMESTAMP
);
CREATE INDEX users_created_at ON users (created_at);

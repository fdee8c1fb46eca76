-- A WeChat identity linked to a Waypoint user: keyed by unionid when WeChat sends one
-- (the person across all apps of the open-platform account), else by openid, which is
-- scoped to the appid. One WeChat identity per user, one user per WeChat identity.
-- WeChat's access and refresh tokens are deliberately not stored.
CREATE TABLE wechat_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    unionid TEXT UNIQUE,
    nickname TEXT NOT NULL,
    avatar_url TEXT,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP,
    UNIQUE (appid, openid)
);

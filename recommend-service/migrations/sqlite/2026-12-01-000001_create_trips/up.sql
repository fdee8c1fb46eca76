CREATE TABLE trips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    destination TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    price_cents BIGINT NOT NULL,
    duration_days INTEGER NOT NULL,
    -- A JSON array of lowercase tags, e.g. ["hiking","food"].
    tags TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    rating_count BIGINT NOT NULL DEFAULT 0,
    rating_avg DOUBLE NOT NULL DEFAULT 0,
    -- Bumped by every change; the cache refuses to store an older version.
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX trips_destination ON trips (destination);
CREATE INDEX trips_price ON trips (price_cents);
CREATE INDEX trips_created_at ON trips (created_at);
CREATE INDEX trips_popularity ON trips (status, rating_count);

CREATE TABLE ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL,
    trip_id BIGINT NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    score INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, trip_id)
);
CREATE INDEX ratings_trip ON ratings (trip_id);

-- Implicit signals; (kind, reference) makes each one count once (a purchase's reference
-- is its order number, a view's is user:trip:day, a favourite's user:trip).
CREATE TABLE signals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL,
    trip_id BIGINT NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (kind, reference)
);
CREATE INDEX signals_user ON signals (user_id);
CREATE INDEX signals_trip ON signals (trip_id);

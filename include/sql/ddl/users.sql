-- Dimension: one row per user, as of their latest event (last_seen_at).
CREATE TABLE IF NOT EXISTS users (
    user_id INTEGER NOT NULL,
    first_name VARCHAR(256),
    last_name VARCHAR(256),
    gender VARCHAR(16),
    level VARCHAR(16),
    last_seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id)
);

-- Baseline schema: run once, before any migration, on a database with no dbinit history.
CREATE TABLE IF NOT EXISTS archived_sessions (
    id          BIGSERIAL PRIMARY KEY,
    user_id     TEXT        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,
    payload     JSONB       NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX IF NOT EXISTS idx_archived_sessions_user ON archived_sessions (user_id);

-- Rollback: Remove tags column
DROP INDEX IF EXISTS idx_archived_sessions_tags;

ALTER TABLE archived_sessions
DROP COLUMN IF EXISTS tags;

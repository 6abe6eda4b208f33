-- Add tags column to archived_sessions
ALTER TABLE archived_sessions
ADD COLUMN IF NOT EXISTS tags TEXT[];

-- Add index
CREATE INDEX IF NOT EXISTS idx_archived_sessions_tags
ON archived_sessions USING GIN (tags);

-- Add comment
COMMENT ON COLUMN archived_sessions.tags IS 'User-defined tags for session categorization';

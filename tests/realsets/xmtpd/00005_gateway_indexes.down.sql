DROP INDEX IF EXISTS gem_time_node_seq_idx;
DROP INDEX IF EXISTS gem_topic_time_idx;
DROP INDEX IF EXISTS gem_topic_time_desc_idx;
DROP INDEX IF EXISTS gem_expiry_idx;

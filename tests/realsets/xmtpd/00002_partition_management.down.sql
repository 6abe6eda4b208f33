DROP FUNCTION IF EXISTS ensure_gateway_parts;
DROP FUNCTION IF EXISTS make_meta_originator_part;
DROP FUNCTION IF EXISTS make_meta_seq_subpart;
DROP FUNCTION IF EXISTS make_blob_originator_part;
DROP FUNCTION IF EXISTS make_blob_seq_subpart;
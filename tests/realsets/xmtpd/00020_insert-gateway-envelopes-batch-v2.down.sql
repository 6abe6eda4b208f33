DROP FUNCTION IF EXISTS insert_gateway_envelope_batch_v2(int[], bigint[], bytea[], int[], timestamp[], bigint[], bytea[], bigint[], boolean[], boolean[]);

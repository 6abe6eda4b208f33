DROP FUNCTION IF EXISTS insert_gateway_envelope_batch(int[], bigint[], bytea[], int[], timestamp[], bigint[], bytea[], bigint[]);

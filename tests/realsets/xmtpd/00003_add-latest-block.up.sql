CREATE TABLE latest_block(
	contract_address TEXT NOT NULL PRIMARY KEY,
	block_number BIGINT NOT NULL,
    block_hash BYTEA
);


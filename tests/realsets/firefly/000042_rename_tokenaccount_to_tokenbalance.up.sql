BEGIN;
ALTER TABLE tokenaccount RENAME TO tokenbalance;
COMMIT;

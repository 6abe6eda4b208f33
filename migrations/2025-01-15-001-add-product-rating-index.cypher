// Add rating property index for products
CREATE INDEX product_rating IF NOT EXISTS
FOR (p:PowerSource) ON (p.rating);

CREATE INDEX feeder_rating IF NOT EXISTS
FOR (f:Feeder) ON (f.rating);

// Verify
SHOW INDEXES;

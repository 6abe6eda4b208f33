// Baseline graph: run once, before any migration, on a database with no dbinit history.
CREATE CONSTRAINT power_source_id IF NOT EXISTS FOR (p:PowerSource) REQUIRE p.id IS UNIQUE;
CREATE CONSTRAINT feeder_id IF NOT EXISTS FOR (f:Feeder) REQUIRE f.id IS UNIQUE;

MERGE (p:PowerSource {id: 'ps-1'}) SET p.name = 'Main substation', p.rating = 40;
MERGE (f:Feeder {id: 'fd-1'}) SET f.name = 'Feeder 1', f.rating = 10;
MATCH (p:PowerSource {id: 'ps-1'}), (f:Feeder {id: 'fd-1'}) MERGE (p)-[:FEEDS]->(f);

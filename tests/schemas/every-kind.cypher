// Every kind of constraint and index Neo4j Community has, for the loading round trip of dbinit's
// Neo4j schema file (tests/test_schema_file.py).
CREATE CONSTRAINT person_id FOR (p:Person) REQUIRE p.id IS UNIQUE;
CREATE CONSTRAINT person_pair FOR (p:Person) REQUIRE (p.first, p.last) IS UNIQUE;
CREATE CONSTRAINT rated_id FOR ()-[r:RATED]-() REQUIRE r.id IS UNIQUE;
CREATE INDEX person_name FOR (p:Person) ON (p.name);
CREATE INDEX person_born_name FOR (p:Person) ON (p.born, p.name);
CREATE TEXT INDEX person_bio FOR (p:Person) ON (p.bio);
CREATE POINT INDEX place_location FOR (p:Place) ON (p.location);
CREATE FULLTEXT INDEX titles FOR (n:Movie|Book) ON EACH [n.title, n.tagline]
  OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}};
CREATE VECTOR INDEX movie_embedding FOR (m:Movie) ON (m.embedding)
  OPTIONS {indexConfig: {`vector.dimensions`: 4, `vector.similarity_function`: 'cosine'}};
CREATE INDEX rated_stars FOR ()-[r:RATED]-() ON (r.stars);
CREATE TEXT INDEX `odd name` FOR (n:`Odd Label`) ON (n.`odd property`);
CREATE (:Person {id: 1, name: 'data is not schema'});

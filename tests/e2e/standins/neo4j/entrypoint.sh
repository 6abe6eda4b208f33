#!/bin/bash
set -euo pipefail
password=${NEO4J_AUTH#neo4j/}
exec java -Xmx256m -XX:+UseSerialGC -cp "/opt/neo4j/neo4j-launcher-1.jar:/opt/neo4j/lib/*" \
  dbinit.testing.Neo4jLauncher /data 7687 "$password" 0.0.0.0

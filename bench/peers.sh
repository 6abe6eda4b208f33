#!/usr/bin/env bash
# Installs the peers the benchmarks compare dbinit with, each from the registry its users take it
# from, into .tools/peers (kept between runs; delete it to start over):
#   dbmate          npm package `dbmate` (ships the binary; the Go module proxy refuses dbmate here)
#   golang-migrate  go install from the Go module proxy
#   Flyway, neo4j-migrations  Maven Central, behind the mains in bench/peers
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
peers=$PWD/.tools/peers
mkdir -p "$peers/bin"

DBMATE=2.36.0 MIGRATE=v4.20.1 NEO4J_MIGRATIONS=2.19.2
central=https://repo.maven.apache.org/maven2

if [ ! -x "$peers/bin/dbmate" ] || [ "$("$peers/bin/dbmate" --version)" != "dbmate version $DBMATE" ]; then
  echo "peers: dbmate $DBMATE from npm"
  # The native binary is linked, not the node wrapper that spawns it: what dbmate costs, not node.
  npm install --silent --no-audit --no-fund --prefix "$peers/npm" "dbmate@$DBMATE" >/dev/null
  ln -sf "$peers/npm/node_modules/@dbmate/linux-x64/bin/dbmate" "$peers/bin/dbmate"
fi

if [ ! -f "$peers/migrate-$MIGRATE" ]; then
  echo "peers: golang-migrate $MIGRATE from the Go module proxy"
  GOBIN="$peers/bin" go install -tags postgres "github.com/golang-migrate/migrate/v4/cmd/migrate@$MIGRATE"
  touch "$peers/migrate-$MIGRATE"   # go install writes no version into the binary
fi

jvm=bench/peers
if [ ! -f $jvm/target/peers-1.jar ] || [ $jvm/pom.xml -nt $jvm/target/peers-1.jar ] \
   || [ -n "$(find $jvm/src -newer $jvm/target/peers-1.jar)" ]; then
  echo "peers: Flyway and neo4j-migrations from Maven Central"
  # neo4j-migrations' parent POM is not on Maven Central for this version, so Maven refuses to
  # resolve it at all: its jar is fetched directly and checked against Central's checksum.
  jar=neo4j-migrations-$NEO4J_MIGRATIONS.jar
  mkdir -p $jvm/target/lib
  if [ ! -f $jvm/target/lib/$jar ]; then
    url=$central/eu/michael-simons/neo4j/neo4j-migrations/$NEO4J_MIGRATIONS/$jar
    curl -fsSL -o $jvm/target/lib/$jar.part "$url"
    echo "$(curl -fsSL "$url.sha1")  $jvm/target/lib/$jar.part" | sha1sum -c --quiet
    mv $jvm/target/lib/$jar.part $jvm/target/lib/$jar
  fi
  mvn -q -B -f $jvm/pom.xml package -DskipTests
fi

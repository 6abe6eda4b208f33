"""The example application: it starts only after dbinit, so it can rely on the schema being current."""
import os
import time

import neo4j
import psycopg
import redis

with psycopg.connect(host=os.environ["POSTGRES_HOST"], user=os.environ["POSTGRES_USER"],
                     password=os.environ["POSTGRES_PASSWORD"], dbname=os.environ["POSTGRES_DB"]) as conn:
    conn.execute("SELECT tags FROM archived_sessions LIMIT 1")  # the column V001 adds
user, password = os.environ["NEO4J_AUTH"].split("/", 1)
with neo4j.GraphDatabase.driver(os.environ["NEO4J_URI"], auth=(user, password)) as driver:
    states = {r["name"]: r["state"] for r in driver.execute_query("SHOW INDEXES").records}
    assert states.get("product_rating") == "ONLINE", states
r = redis.Redis.from_url(os.environ["REDIS_URL"], password=os.environ["REDIS_PASSWORD"])
assert r.hget("pconfig:meta", "key-layout") == b"2"
print("app: schema is current; serving", flush=True)
open("/tmp/serving", "w").close()  # the compose healthcheck: the post-deploy migrations may run now
while True:
    time.sleep(3600)

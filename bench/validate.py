"""`dbinit validate` over 5,000 generated files (Postgres with down files, Neo4j, Redis).

    .venv/bin/python bench/validate.py [COUNT]
"""
import sys
import tempfile
from pathlib import Path

from common import dbinit, median, timed

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 5000


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dbinit-bench-"))
    per_kind = COUNT // 4
    for i in range(1, per_kind + 1):
        (work / f"V{i:05d}-step-up.sql").write_text(
            f"CREATE TABLE t{i} (id int PRIMARY KEY, note text);\n"
            f"DO $$ BEGIN PERFORM 1; END $$;\nINSERT INTO t{i} VALUES (1, 'a;b');\n")
        (work / f"V{i:05d}-step-down.sql").write_text(f"DROP TABLE t{i};\n")
        (work / f"{2000 + i // 365:04d}-{1 + i // 28 % 12:02d}-{1 + i % 28:02d}-{i:03d}-step.cypher").write_text(
            f"CREATE INDEX i{i} IF NOT EXISTS FOR (n:L{i}) ON (n.p);\nMERGE (:L{i} {{id: 1, s: 'x;y'}});\n")
        (work / f"V{i:05d}-step.redis").write_text(f'# step {i}\nSET key:{i} "a value"\nHSET h:{i} f v\n')
    files = len(list(work.iterdir()))
    runs = [timed(lambda: dbinit("validate", env={"DBINIT_MIGRATIONS": str(work)})) for _ in range(3)]
    print(f"dbinit validate over {files} files: median of 3 {median(runs):.2f} s "
          f"(whole process; SQL parsed by Postgres's parser, Cypher and Redis lines split)")


if __name__ == "__main__":
    main()

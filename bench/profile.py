#!/usr/bin/env python3
"""PROFILE the Cypher of each benchmark workload: what mandate generates and the
hand-written floor, on the same Neo4j. Reads JSON lines {workload, target, cypher,
params} (from `mandate-bench cypher`) on stdin and prints a Markdown table of db hits,
rows and the index operators each plan starts from.

    mandate-bench cypher | python3 bench/profile.py bolt://127.0.0.1:7700 <password>

Needs the `neo4j` Python driver (bench/run installs it in a virtualenv of its own).
"""

import json
import sys

import neo4j


def walk(plan, out):
    out["db_hits"] += plan.get("dbHits", 0) or 0
    op = plan.get("operatorType", "").split("@")[0]
    if "Index" in op or "Scan" in op:
        out["access"].add(op)
    for child in plan.get("children", []):
        walk(child, out)


def main():
    uri, password = sys.argv[1], sys.argv[2]
    driver = neo4j.GraphDatabase.driver(uri, auth=("neo4j", password))
    rows = []
    with driver.session() as session:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            item = json.loads(line)
            # Once to plan, once to measure.
            session.run(item["cypher"], item["params"]).consume()
            summary = session.run("PROFILE " + item["cypher"], item["params"]).consume()
            out = {"db_hits": 0, "access": set()}
            walk(summary.profile, out)
            rows.append((item["workload"], item["target"], out["db_hits"], sorted(out["access"])))
    driver.close()
    print("| workload | Cypher | db hits | starts from / scans |")
    print("|---|---|---|---|")
    for workload, target, hits, access in rows:
        print(f"| {workload} | {target} | {hits:,} | {', '.join(access) or '–'} |")


if __name__ == "__main__":
    main()

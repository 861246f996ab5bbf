#!/usr/bin/env bash
# Measures what docs/capacity.md reports: throughput of 1, 2 and 3 hub instances on
# one Neo4j (each with its own chain and journal, as deployed), the CPU each hub
# and Neo4j spend per request, the hubs' memory and the journal's bytes per record.
#
#   NEO4J_URI=bolt://127.0.0.1:7687 NEO4J_PASSWORD=… NEO4J_PID=<java pid> deploy/capacity.sh
#
# It reads residents as the public security bureau, so it leaves audit records
# (chains capacity-*) that residents' access receipts list: run it on a benchmark
# database, not on one whose receipts a test or a person relies on.
#
# Needs a seeded city (`mandate seed`) and release binaries (cargo build --release
# -p mandate -p mandate-bench; CAPACITY_BIN to use others). CAPACITY_SECONDS (15),
# CAPACITY_CLIENTS (12: the same total load for every N), CAPACITY_WORKLOADS
# (point,scoped-list), CAPACITY_RESIDENTS (the city's size, for random ids).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${CAPACITY_BIN:-${CARGO_TARGET_DIR:-target}/release}
seconds=${CAPACITY_SECONDS:-15}
clients=${CAPACITY_CLIENTS:-12}
workloads=${CAPACITY_WORKLOADS:-point,scoped-list}
residents=${CAPACITY_RESIDENTS:-3000}
: "${NEO4J_URI:?}" "${NEO4J_PASSWORD:?}" "${NEO4J_PID:?the Neo4j server process, for its CPU time}"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The public security bureau reads every resident: every lookup answers data.
"$bin/mandate" apikey --agency D-PUBLIC_SECURITY --officer capacity --role officer > "$work/apikey.txt"
key=$(sed -n 2p "$work/apikey.txt" | tr -d ' ')
sed -n '/^\[\[key\]\]/,$p' "$work/apikey.txt" > "$work/keys.toml"

ticks=$(getconf CLK_TCK)
cpu_ms() { # total user+system CPU of a process, in ms
  awk -v t="$ticks" '{print ($14 + $15) * 1000 / t}' "/proc/$1/stat"
}
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

start_hub() { # start_hub I PORT
  MANDATE__AUTH__API_KEYS_FILE=$work/keys.toml MANDATE__POLICIES__DIR=$PWD/policies \
    MANDATE__AUDIT__CHAIN=capacity-$$-$1 MANDATE__AUDIT__JOURNAL=$work/audit-$1.jsonl \
    MANDATE__CURSORS__SECRET=capacity-secret MANDATE__LOG__LEVEL=warn \
    "$bin/mandate" serve --listen "127.0.0.1:$2" > "$work/hub-$1.log" 2>&1 &
  echo $!
}

printf '| instances | workload | clients | req/s | p50 ms | p99 ms | hub CPU ms/req | Neo4j CPU ms/req | Neo4j share of CPU | hub peak RSS MB | journal bytes/record |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for n in 1 2 3; do
  hubs=()
  ports=()
  for i in $(seq 1 "$n"); do
    port=$((9300 + i))
    hubs+=("$(start_hub "$i" "$port")")
    ports+=("$port")
    pids+=("${hubs[-1]}")
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && break
      sleep 0.2
    done
  done
  IFS=, read -ra ws <<< "$workloads"
  for w in "${ws[@]}"; do
    per=$((clients / n))
    # Warm-up: Neo4j's caches and the plan caches.
    warm=()
    for port in "${ports[@]}"; do
      "$bin/mandate-bench" hub --url "http://127.0.0.1:$port/graphql" --api-key "$key" \
        --purpose household_registration --workload "$w" --concurrency "$per" --seconds 3 \
        --residents "$residents" > /dev/null &
      warm+=($!)
    done
    wait "${warm[@]}"
    before_neo=$(cpu_ms "$NEO4J_PID")
    before_hubs=0
    for h in "${hubs[@]}"; do before_hubs=$(echo "$before_hubs + $(cpu_ms "$h")" | bc); done
    loads=()
    for j in "${!ports[@]}"; do
      "$bin/mandate-bench" hub --url "http://127.0.0.1:${ports[$j]}/graphql" --api-key "$key" \
        --purpose household_registration --workload "$w" --concurrency "$per" --seconds "$seconds" \
        --residents "$residents" > "$work/load-$n-$w-$j.txt" &
      loads+=($!)
    done
    wait "${loads[@]}"
    after_neo=$(cpu_ms "$NEO4J_PID")
    after_hubs=0
    for h in "${hubs[@]}"; do after_hubs=$(echo "$after_hubs + $(cpu_ms "$h")" | bc); done
    # Sum the instances' throughput; latencies are the worst instance's.
    read -r reqs rate p50 p99 < <(cat "$work"/load-"$n"-"$w"-*.txt | awk '
      { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        gsub(/\/s/, "", v["throughput"]); gsub(/ms/, "", v["p50"]); gsub(/ms/, "", v["p99"])
        r += v["requests"]; t += v["throughput"]
        if (v["p50"] + 0 > p50) p50 = v["p50"] + 0
        if (v["p99"] + 0 > p99) p99 = v["p99"] + 0 }
      END { print r, t, p50, p99 }')
    hub_ms=$(echo "scale=3; ($after_hubs - $before_hubs) / $reqs" | bc)
    neo_ms=$(echo "scale=3; ($after_neo - $before_neo) / $reqs" | bc)
    share=$(echo "scale=0; 100 * ($after_neo - $before_neo) / ($after_neo - $before_neo + $after_hubs - $before_hubs)" | bc)
    rss=0
    for h in "${hubs[@]}"; do r=$(hwm_kb "$h"); [ "$r" -gt "$rss" ] && rss=$r; done
    bytes=$(cat "$work"/audit-*.jsonl | wc -c)
    records=$(cat "$work"/audit-*.jsonl | wc -l)
    printf '| %s | %s | %s | %.0f | %s | %s | %s | %s | %s %% | %s | %s |\n' \
      "$n" "$w" "$clients" "$rate" "$p50" "$p99" "$hub_ms" "$neo_ms" "$share" \
      "$((rss / 1024))" "$((bytes / (records > 0 ? records : 1)))"
  done
  for h in "${hubs[@]}"; do kill "$h"; wait "$h" 2>/dev/null || true; done
  pids=()
  rm -f "$work"/audit-*.jsonl
done

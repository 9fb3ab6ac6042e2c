#!/usr/bin/env bash
# Bytes per logged event: fills a new data directory with SECONDS of the load generator's traffic (100-event batches,
# 10,000 Zipf tenants), stops the server, and measures its logs (scripts/LogBytes.java); with the zstd command installed,
# also what zstd at level 3 makes of the log files (what an archive of them would take).
#   scripts/log-bytes.sh [SECONDS] [SERVER_JAR]     e.g. scripts/log-bytes.sh 10
# Needs the jars: mvn -B -q package -DskipTests
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"; JAR="${2:-metering-server/target/tokenmeter.jar}"
PORT=18091
DATA="$(mktemp -d)"
java -Xmx2g -jar "$JAR" serve --port "$PORT" --data-dir "$DATA/data" > "$DATA/server.log" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null; wait $SPID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 150); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/health/ready"; then break; fi
  sleep 0.2
done
java -jar benchmarks/target/benchmarks.jar loadgen --url "http://127.0.0.1:$PORT/v1/events" --batch 100 --connections 16 \
  --duration "${SECS}s" --warmup 0s > /dev/null
kill $SPID; wait $SPID 2>/dev/null || true
FLAGS=$(sed -n 's:.*<tokenmeter.jvmFlags>\(.*\)</tokenmeter.jvmFlags>.*:\1:p' pom.xml)
# shellcheck disable=SC2086
java $FLAGS -cp benchmarks/target/benchmarks.jar scripts/LogBytes.java "$DATA/data"
if command -v zstd > /dev/null; then
  EVENTS=$(java $FLAGS -cp benchmarks/target/benchmarks.jar scripts/LogBytes.java "$DATA/data" | sed -n 's/.* documents, \([0-9]*\) events.*/\1/p')
  ZBYTES=0
  while IFS= read -r f; do ZBYTES=$((ZBYTES + $(zstd -3 -q -c "$f" | wc -c))); done < <(find "$DATA/data/log" -name '*.cq4')
  awk -v z="$ZBYTES" -v e="$EVENTS" 'BEGIN { printf "zstd -3 of the log files: %d bytes, %.1f bytes per event\n", z, z / e }'
fi

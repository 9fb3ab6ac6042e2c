#!/usr/bin/env bash
# Archive ratio and speeds: fills a new data directory with SECONDS of the load generator's traffic (100-event batches,
# 10,000 Zipf tenants), stops the server, and runs scripts/ArchiveSpeed.java on it: the audit and a read of every log
# from the live files, then every log file packed as `tokenmeter archive` packs it, and the audit and the read again
# through the archives.
#   scripts/archive-speed.sh [SECONDS] [PARTITIONS]     e.g. scripts/archive-speed.sh 10 2
# Needs the jars: mvn -B -q package -DskipTests
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"; PARTS="${2:-2}"; JAR=metering-server/target/tokenmeter.jar
PORT=18092
DATA="$(mktemp -d)"
java -Xmx2g -jar "$JAR" serve --port "$PORT" --data-dir "$DATA/data" --partitions "$PARTS" > "$DATA/server.log" 2>&1 &
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
java $FLAGS -Dchronicle.analytics.disable=true -Xmx2g -cp benchmarks/target/benchmarks.jar scripts/ArchiveSpeed.java "$DATA/data" 2>&1 \
  | grep -v ' INFO \| WARN '

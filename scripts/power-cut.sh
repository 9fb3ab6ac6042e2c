#!/usr/bin/env bash
# Power cuts under load (docs/robustness.md, "Power cuts"): the server's data directory is on LazyFS, a FUSE file
# system that keeps every write not fsynced in its own cache; "lazyfs::clear-cache" drops that cache, as a power cut
# drops the page cache. Each cut: 4 gateways (a tenant each) post 50-event batches and record every event
# acknowledged; the server is killed -9, the kernel's dirty pages of the dead process are pushed into LazyFS's cache
# (sync -f: written, not synced), the cache is cleared, LazyFS is unmounted and mounted again, and the restarted
# server must still hold every acknowledged event (each one posted again comes back a duplicate; usage totals at least
# the acknowledged count), with a clean audit. With --durability process the same cut must lose acknowledged events:
# that shows the harness can fail. Not part of CI: it needs root, /dev/fuse and LazyFS.
#   scripts/power-cut.sh [sync|process] [CUTS] [LOAD_SECONDS]        e.g. scripts/power-cut.sh sync 5 6
# LazyFS: LAZYFS_BIN (default $LAZYFS_SRC/lazyfs/build/lazyfs) is used as it is; without it the script builds
# LAZYFS_SRC (a checkout of github.com/dsrhaslab/lazyfs, default /work/lazyfs-build/src where the figures' build is;
# needs cmake, g++, pkg-config, libfuse3-dev, fuse3) and, offline, takes CMake's toml11 v3.7.1 and spdlog v1.10.0
# from LAZYFS_DEPS/toml11 and LAZYFS_DEPS/spdlog. Needs the jar: mvn -B -q package -DskipTests.
# Exit 0 when every cut behaved as its mode promises. STOP_AFTER_CUT=1 stops after the first cut, leaving the data as
# the disk holds it in $POWER_CUT_DIR/root/data (for Chronicle's DumpMain).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-sync}"; CUTS="${2:-5}"; LOAD_SECONDS="${3:-6}"
case "$MODE" in sync|process) ;; *) echo "durability must be sync or process, not $MODE" >&2; exit 2 ;; esac
JAR="${JAR:-metering-server/target/tokenmeter.jar}"
PORT="${PORT:-18093}"
PARTITIONS="${PARTITIONS:-2}"
WORK="${POWER_CUT_DIR:-/tmp/power-cut}"
LAZYFS_SRC="${LAZYFS_SRC:-/work/lazyfs-build/src}"
LAZYFS_DEPS="${LAZYFS_DEPS:-/work/lazyfs-build/deps}"
LAZYFS_BIN="${LAZYFS_BIN:-$LAZYFS_SRC/lazyfs/build/lazyfs}"
URL="http://127.0.0.1:$PORT"
# one tenant a gateway; with 2 partitions the first and third are in partition 0, the others in partition 1
TENANTS="${TENANTS:-power-cut-0,power-cut-5,power-cut-1,power-cut-7}"

fail() { echo "power-cut: $*" >&2; exit 2; }
[ -f "$JAR" ] || fail "no $JAR: build it with mvn -B -q package -DskipTests"
[ "$(id -u)" = 0 ] || fail "needs root (FUSE mount with allow_other)"
[ -c /dev/fuse ] || fail "no /dev/fuse: FUSE is not available here (in a container: --device /dev/fuse --cap-add SYS_ADMIN)"
command -v fusermount3 > /dev/null || fail "no fusermount3: apt-get install fuse3"

build_lazyfs() {
  [ -d "$LAZYFS_SRC/lazyfs" ] || fail "no LazyFS at $LAZYFS_BIN and no sources at LAZYFS_SRC=$LAZYFS_SRC (git clone https://github.com/dsrhaslab/lazyfs)"
  for tool in cmake g++ pkg-config; do command -v $tool > /dev/null || fail "building LazyFS needs $tool (apt-get install cmake g++ pkg-config libfuse3-dev fuse3)"; done
  pkg-config --exists fuse3 || fail "building LazyFS needs libfuse3-dev"
  local fetch=() include=""
  if [ -d "$LAZYFS_DEPS/toml11" ] && [ -d "$LAZYFS_DEPS/spdlog" ]; then
    fetch=(-DFETCHCONTENT_SOURCE_DIR_TOML="$LAZYFS_DEPS/toml11" -DFETCHCONTENT_SOURCE_DIR_SPDLOG="$LAZYFS_DEPS/spdlog")
    include="-I$LAZYFS_DEPS/spdlog/include -I$LAZYFS_DEPS/toml11"
  fi
  echo "building LazyFS from $LAZYFS_SRC"
  (cd "$LAZYFS_SRC/libs/libpcache" && mkdir -p build && cd build && cmake "${fetch[@]}" .. > /dev/null && cmake --build . -j2 > /dev/null) \
    || fail "libpcache did not build (offline? set LAZYFS_DEPS to a folder with toml11 v3.7.1 and spdlog v1.10.0)"
  (cd "$LAZYFS_SRC/lazyfs" && mkdir -p build && cd build && cmake -DLAZYFS_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="$include" .. > /dev/null \
    && cmake --build . -j2 > /dev/null) || fail "lazyfs did not build"
}
[ -x "$LAZYFS_BIN" ] || build_lazyfs

SPID=""; LPID=""; FSPID=""
cleanup() {
  if [ -n "$SPID" ]; then kill -9 "$SPID" 2> /dev/null || true; wait "$SPID" 2> /dev/null || true; fi
  if [ -n "$LPID" ]; then kill "$LPID" 2> /dev/null || true; wait "$LPID" 2> /dev/null || true; fi
  if mountpoint -q "$WORK/mnt"; then fusermount3 -u "$WORK/mnt" || true; fi
}
trap cleanup EXIT
if mountpoint -q "$WORK/mnt"; then fusermount3 -u "$WORK/mnt"; fi
# LazyFS takes a --config-path holding "-o" (any case) for a mount option and then reads config/default.toml
case "${WORK,,}" in *-o*) fail "POWER_CUT_DIR must not contain \"-o\" (LazyFS misreads such a config path): $WORK" ;; esac
rm -rf "$WORK"; mkdir -p "$WORK/mnt" "$WORK/root"
cat > "$WORK/lazyfs.toml" << EOF
[faults]
fifo_path="$WORK/faults.fifo"
[cache]
apply_eviction=false
[cache.simple]
custom_size="1gb"
blocks_per_page=1
[filesystem]
log_all_operations=false
logfile="$WORK/lazyfs.log"
EOF

mount_lazyfs() {
  "$LAZYFS_BIN" "$WORK/mnt" --config-path "$WORK/lazyfs.toml" -o allow_other -o modules=subdir \
    -o subdir="$WORK/root" >> "$WORK/lazyfs.out" 2>&1 &
  FSPID=$!
  for _ in $(seq 1 300); do
    if mountpoint -q "$WORK/mnt" && grep -q "waiting for fault commands" "$WORK/lazyfs.log" 2> /dev/null; then return; fi
    sleep 0.2
  done
  fail "LazyFS did not mount on $WORK/mnt in 60 s (see $WORK/lazyfs.out)"
}

unmount_lazyfs() {
  fusermount3 -u "$WORK/mnt"
  for _ in $(seq 1 100); do kill -0 "$FSPID" 2> /dev/null || break; sleep 0.1; done
  : > "$WORK/lazyfs.log"
}

start_server() {
  # LazyFS reports no free space (it has no statfs), so min-free-disk is off; snapshots every second, so cuts also
  # find snapshots and journal checkpoints being written
  TOKENMETER_MIN_FREE_DISK=0 TOKENMETER_SNAPSHOT_INTERVAL=1s java -Xmx1g -jar "$JAR" serve --port "$PORT" --data-dir "$WORK/mnt/data" --durability "$MODE" \
    --partitions "$PARTITIONS" >> "$WORK/server.log" 2>&1 &
  SPID=$!
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health/ready")" = 200 ]; then return; fi
    kill -0 "$SPID" 2> /dev/null || fail "the server exited while starting (see $WORK/server.log)"
    sleep 0.2
  done
  fail "the server was not ready in 120 s (see $WORK/server.log)"
}

# the power cut: the process dies, and nothing it wrote without an fsync survives
power_cut() {
  kill -9 "$SPID"; wait "$SPID" 2> /dev/null || true; SPID=""
  sync -f "$WORK/mnt"
  local cleared; cleared=$(grep -c "cache is cleared" "$WORK/lazyfs.log" || true)
  echo "lazyfs::clear-cache" > "$WORK/faults.fifo"
  for _ in $(seq 1 100); do
    [ "$(grep -c "cache is cleared" "$WORK/lazyfs.log" || true)" -gt "$cleared" ] && return
    sleep 0.1
  done
  fail "LazyFS did not confirm clearing its cache (see $WORK/lazyfs.log)"
}

TS=$(( $(date +%s) * 1000 ))
FROM=$(date -u -d "@$(( TS / 1000 / 3600 * 3600 ))" +%Y-%m-%dT%H:00:00Z)
PERIOD=$(date -u -d "@$(( TS / 1000 ))" +%Y-%m)
ACKS="$WORK/acknowledged.txt"; : > "$ACKS"
REPORT="$WORK/report.txt"; : > "$REPORT"
mount_lazyfs
start_server
TOTAL_ACKED=0; TOTAL_LOST=0; BAD=0
for cut in $(seq 1 "$CUTS"); do
  : > "$WORK/acked-$cut.txt"
  java scripts/PowerCutLoad.java load "$URL/v1/events" "$TENANTS" "c$cut" 4 50 "$WORK/acked-$cut.txt" "$TS" 300 \
    >> "$WORK/load.log" 2>&1 &
  LPID=$!
  # the cut falls LOAD_SECONDS/2 to LOAD_SECONDS after the first acknowledgement (the first flushes after a mount are slow)
  for _ in $(seq 1 600); do [ -s "$WORK/acked-$cut.txt" ] && break; sleep 0.1; done
  sleep "$(awk -v s="$LOAD_SECONDS" -v r="$RANDOM" 'BEGIN { printf "%.1f", s / 2 + (r % 1000) / 1000 * s / 2 }')"
  power_cut
  touch "$WORK/acked-$cut.txt.stop"; wait "$LPID" || true; LPID=""
  unmount_lazyfs
  if [ -n "${STOP_AFTER_CUT:-}" ]; then
    echo "stopped after cut $cut: the data as the disk holds it is in $WORK/root/data"; trap - EXIT; exit 0
  fi
  mount_lazyfs
  start_server
  ACKED=$(wc -l < "$WORK/acked-$cut.txt")
  cat "$WORK/acked-$cut.txt" >> "$ACKS"
  TOTAL_ACKED=$(( TOTAL_ACKED + ACKED ))
  USAGE=0
  for t in ${TENANTS//,/ }; do
    U=$(curl -s "$URL/v1/usage?tenant=$t&from=$FROM&to=2100-01-01T00:00:00Z&consistent=true" \
      | sed -n 's/.*"output_tokens":\([0-9]*\).*/\1/p')
    USAGE=$(( USAGE + ${U:-0} ))
  done
  CHECK=$(java scripts/PowerCutLoad.java check "$URL/v1/events" "$WORK/acked-$cut.txt" "$TS")
  LOST=$(echo "$CHECK" | sed -n 's/.* lost \([0-9]*\) .*/\1/p')
  TOTAL_LOST=$(( TOTAL_LOST + LOST ))
  if java -jar "$JAR" audit --data-dir "$WORK/mnt/data" --period "$PERIOD" --server "$URL" > "$WORK/audit-$cut.txt" 2>&1; then
    AUDIT=clean; else AUDIT="exit $? (see $WORK/audit-$cut.txt)"; fi
  LINE="cut $cut ($MODE): this cut: $CHECK; usage $USAGE output tokens for $TOTAL_ACKED acknowledged so far; audit $AUDIT"
  echo "$LINE" | tee -a "$REPORT"
  if [ "$LOST" != 0 ] || [ "$USAGE" -lt "$(( TOTAL_ACKED - LOST ))" ] || [ "$AUDIT" != clean ]; then BAD=$(( BAD + 1 )); fi
done
kill "$SPID"; wait "$SPID" 2> /dev/null || true; SPID=""
SUMMARY="power cuts ($MODE, $PARTITIONS partitions): $CUTS cuts, $TOTAL_ACKED events acknowledged, $(( TOTAL_ACKED - TOTAL_LOST )) found after the cuts, $TOTAL_LOST lost; $BAD cuts lost events or failed the audit"
echo "$SUMMARY" | tee -a "$REPORT"
if [ "$MODE" = sync ]; then [ "$BAD" = 0 ]; else [ "$TOTAL_LOST" -gt 0 ] || { echo "process mode lost nothing: the cut did not bite" >&2; exit 1; }; fi

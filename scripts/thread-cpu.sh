#!/usr/bin/env bash
# CPU time per server thread under load, from /proc (Linux): where each event's CPU goes.
# The last line is the whole machine over the same run (the load generator and kernel threads beside the server).
#   scripts/thread-cpu.sh [tokenmeter|parse] [BATCH] [CONNECTIONS] [SECONDS] [-- loadgen flags]
# e.g. scripts/thread-cpu.sh tokenmeter 100 32 20      scripts/thread-cpu.sh parse 100 32 20
#      scripts/thread-cpu.sh tokenmeter 100 64 20 -- --rate 3300
# Starts the server (or the parse-only reference) as compare does (-Xmx2g -Xms2g, pre-touched, huge pages), warms it
# with 10 s of closed-loop load, then runs the measured load and prints each thread's CPU seconds and microseconds of
# CPU per acknowledged event, in all and split into user and system (kernel) time. Needs the jars: mvn -B -q package -DskipTests
# TOKENMETER_JAR=path runs another build of the server (an A/B against the previous build); WARMUP=5s warms the
# measured load up first (its CPU counted with the run's).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:-tokenmeter}"; BATCH="${2:-100}"; CONNS="${3:-32}"; SECS="${4:-20}"
shift $(( $# < 4 ? $# : 4 ))
if [ "${1:-}" = "--" ]; then shift; fi
PORT=18090
DATA="$(mktemp -d)"
JVM=(-Xmx2g -Xms2g -XX:+AlwaysPreTouch -XX:+UseTransparentHugePages)
if [ "$TARGET" = "parse" ]; then
  java "${JVM[@]}" -jar benchmarks/target/benchmarks.jar reference --mode parse --port "$PORT" > "$DATA/server.log" 2>&1 &
else
  java "${JVM[@]}" -jar "${TOKENMETER_JAR:-metering-server/target/tokenmeter.jar}" serve --port "$PORT" --data-dir "$DATA/data" > "$DATA/server.log" 2>&1 &
fi
SPID=$!
trap 'kill $SPID 2>/dev/null; wait $SPID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 150); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/health/ready"; then break; fi
  sleep 0.2
done
LOADGEN=(java -jar benchmarks/target/benchmarks.jar loadgen --url "http://127.0.0.1:$PORT/v1/events" --batch "$BATCH")
"${LOADGEN[@]}" --connections 32 --duration 10s > /dev/null
snapshot() { for t in /proc/$SPID/task/*; do echo "$(cat "$t/comm")|$(sed 's/^.*) //' "$t/stat" | awk '{print $12"|"$13}')"; done; }
snapshot > "$DATA/before"
head -1 /proc/stat > "$DATA/stat-before"
# no warm-up of its own by default: the CPU counted is the measured run's (plus its 0.2 s start). WARMUP=5s gives the
# measured load a warm-up of its own (for open-loop latencies without the cold start's backlog); its CPU is counted too
"${LOADGEN[@]}" --connections "$CONNS" --duration "${SECS}s" --warmup "${WARMUP:-0s}" --json "$DATA/run.json" "$@" | tee "$DATA/run.txt"
head -1 /proc/stat > "$DATA/stat-after"
snapshot > "$DATA/after"
EVENTS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$DATA/run.json")
python3 - "$DATA/before" "$DATA/after" "$EVENTS" "$(getconf CLK_TCK)" "$DATA/stat-before" "$DATA/stat-after" <<'PY'
import collections, re, sys
def load(path):
    user, system = collections.defaultdict(int), collections.defaultdict(int)
    for line in open(path):
        name, u, k = line.rstrip('\n').rsplit('|', 2)
        name = re.sub(r'-\d+$', '', name)
        user[name] += int(u)
        system[name] += int(k)
    return user, system
(bu, bs), (au, as_), events, hz = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = sorted((((au[k] - bu.get(k, 0)) / hz, (as_[k] - bs.get(k, 0)) / hz, k) for k in au), key=lambda r: -(r[0] + r[1]))
per = lambda seconds: seconds * 1e6 / max(events, 1)
print(f"{'thread':24s} {'CPU s':>8s} {'us/event':>9s} {'user':>7s} {'system':>7s}   ({events:,} events acknowledged)")
for user, system, name in rows:
    if user + system >= 0.05:
        print(f"{name:24s} {user + system:8.2f} {per(user + system):9.3f} {per(user):7.3f} {per(system):7.3f}")
total_user, total_system = sum(r[0] for r in rows), sum(r[1] for r in rows)
print(f"{'all':24s} {total_user + total_system:8.2f} {per(total_user + total_system):9.3f} {per(total_user):7.3f} {per(total_system):7.3f}")
# the whole machine over the same run: user, nice, system, irq, softirq (not idle, iowait, steal)
cpu = lambda path: [int(v) for v in open(path).read().split()[1:]]
before, after = cpu(sys.argv[5]), cpu(sys.argv[6])
delta = [a - b for a, b in zip(after, before)]
busy = (delta[0] + delta[1] + delta[2] + delta[5] + delta[6]) / hz
outside = busy - total_user - total_system
print(f"{'machine, busy':24s} {busy:8.2f} {per(busy):9.3f}   (outside the server: {per(outside):.3f} us/event, the load "
      f"generator and the kernel's threads; idle {delta[3] / hz:.2f} s, iowait {delta[4] / hz:.2f} s, steal {delta[7] / hz:.2f} s)")
PY
if [ "${WARMUP:-0s}" != "0s" ]; then
  echo "(CPU includes the measured load's warm-up of $WARMUP, events do not: the us/event above are (WARMUP + $SECS s) / $SECS s too high)"
fi

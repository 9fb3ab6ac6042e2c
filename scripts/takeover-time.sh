#!/usr/bin/env bash
# Takeover time of a cluster partition holding EVENTS events (issue 18; BENCHMARKS.md "Cluster takeover (issue 18)"):
#
#   scripts/takeover-time.sh [EVENTS]        (default 10000000)
#
# On this machine, all on 127.0.0.1: ONE real Kafka broker (kafka.Kafka of org.apache.kafka:kafka_2.13 from ~/.m2, a
# KRaft node in combined roles, its own JVM) and tokenmeter nodes in cluster mode with the owners group, ONE partition
# (--partitions 1: the whole load is in the one partition and the node's whole dedup-capacity is its) and the unsafe
# one-broker mode (--kafka-unsafe-single-broker: replication 1; fine for timing, never for data). Then:
#
#   1. node A loads EVENTS events of one tenant through POST /v1/events (batches of TAKEOVER_BATCH over
#      TAKEOVER_CONNECTIONS connections, scripts/TakeoverTime.java) and waits until usage with consistent=true counts
#      them all, then waits TAKEOVER_SETTLE seconds (past a snapshot-interval, so its newest snapshot holds them);
#   (b) the owner restarts on its own data: kill -9 of A and A started again at once (within its session), then kill -9
#      and a start after the session has ended (TAKEOVER_SESSION + 2 s): each timed from the kill and from the start to
#      A answering the exact count with consistent=true;
#   (a) a node that never held the partition takes over: node B (empty data directory) joins the group, A is killed
#      with kill -9, and the time from the kill to B answering the exact count is measured; then a retry of the first
#      and of the last event posted to B must be duplicates.
#
# Prints `name=value` figures and a summary; tokenmeter_partition_takeover_seconds (assignment to serving, the
# session timeout excluded) is read from the serving node's /metrics. Every wait is bounded; everything started is
# killed on exit. Settings (environment): TAKEOVER_DIR (/tmp/tokenmeter-takeover, deleted and made again),
# TAKEOVER_PORT (28080: the broker on it, its controller on +1, nodes on +2 and +3), TAKEOVER_NODE_HEAP (1g),
# TAKEOVER_BROKER_HEAP (512m), TAKEOVER_CONNECTIONS (4), TAKEOVER_BATCH (1000), TAKEOVER_SESSION (6, seconds:
# --kafka-session-timeout), TAKEOVER_SETTLE (15), TAKEOVER_WAIT (180, seconds any one wait may take),
# TAKEOVER_LOAD_WAIT (3600), TAKEOVER_NODE_ARGS (more `serve` flags for both nodes, e.g. --dedup-capacity 10000000).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
EVENTS="${1:-10000000}"
[[ "$EVENTS" =~ ^[0-9]+$ ]] && [ "$EVENTS" -gt 0 ] || { echo "usage: scripts/takeover-time.sh [EVENTS]" >&2; exit 2; }
STATE="${TAKEOVER_DIR:-/tmp/tokenmeter-takeover}"
PORT="${TAKEOVER_PORT:-28080}"
BROKER_PORT="$PORT"
CONTROLLER_PORT=$((PORT + 1))
PORT_A=$((PORT + 2))
PORT_B=$((PORT + 3))
URL_A="http://127.0.0.1:$PORT_A"
URL_B="http://127.0.0.1:$PORT_B"
NODE_HEAP="${TAKEOVER_NODE_HEAP:-1g}"
BROKER_HEAP="${TAKEOVER_BROKER_HEAP:-512m}"
CONNECTIONS="${TAKEOVER_CONNECTIONS:-4}"
BATCH="${TAKEOVER_BATCH:-1000}"
SESSION="${TAKEOVER_SESSION:-6}"
SETTLE="${TAKEOVER_SETTLE:-15}"
WAIT="${TAKEOVER_WAIT:-180}"
LOAD_WAIT="${TAKEOVER_LOAD_WAIT:-3600}"
read -r -a NODE_ARGS <<< "${TAKEOVER_NODE_ARGS:-}"
JAR="$ROOT/metering-server/target/tokenmeter.jar"
TENANT="takeover"
CLASSPATH_FILE="$ROOT/metering-kafka/target/takeover-kafka.classpath"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

die()
{
    echo "takeover-time: $*" >&2
    exit 1
}

say()
{
    echo "takeover-time: $(date -u +%H:%M:%S) $*" >&2
}

now_ms() { date +%s%3N; }

PIDS=()
cleanup()
{
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        kill -KILL "$pid" 2> /dev/null || true
    done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        wait "$pid" 2> /dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in "$BROKER_PORT" "$CONTROLLER_PORT" "$PORT_A" "$PORT_B"; do
    if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
        die "port $port is in use: stop what runs there or set TAKEOVER_PORT"
    fi
done

if [ ! -f "$JAR" ]; then
    say "building $JAR (mvn -o package -DskipTests)"
    (cd "$ROOT" && mvn -B -o -q package -DskipTests -pl metering-server -am) || die "building the jar failed"
fi
if [ ! -s "$CLASSPATH_FILE" ]; then
    # the test class path of metering-kafka, as its test compile sees it (Maven's debug output): the dependency
    # plugin's build-classpath needs plugin dependencies that are not in an offline ~/.m2
    say "resolving the Kafka class path (mvn -o -X test-compile of metering-kafka)"
    mkdir -p "$(dirname "$CLASSPATH_FILE")"
    (cd "$ROOT" && mvn -B -o -X -pl metering-kafka -am test-compile) > "$CLASSPATH_FILE.log" 2>&1 \
        || die "Maven could not compile metering-kafka's tests offline; see $CLASSPATH_FILE.log"
    grep -F '(f) testPath = [' "$CLASSPATH_FILE.log" | tail -n 1 | sed -e 's/.*(f) testPath = \[//' -e 's/\]$//' \
        -e 's/, /:/g' > "$CLASSPATH_FILE.tmp"
    grep -q 'kafka_2.13' "$CLASSPATH_FILE.tmp" || die "no kafka_2.13 jar in the class path of $CLASSPATH_FILE.log"
    mv "$CLASSPATH_FILE.tmp" "$CLASSPATH_FILE"
    rm -f "$CLASSPATH_FILE.log"
fi

rm -rf "$STATE"
mkdir -p "$STATE/broker/data" "$STATE/node-a" "$STATE/node-b"
cat > "$STATE/logback.xml" <<'EOF'
<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.kafka.clients" level="WARN"/>
  <root level="INFO"><appender-ref ref="out"/></root>
</configuration>
EOF
sed -e 's/<root level="INFO">/<root level="ERROR">/' -e 's/level="WARN"/level="ERROR"/' "$STATE/logback.xml" > "$STATE/tool-logback.xml"
# one KRaft node, replication 1 everywhere (the properties of metering-kafka's KafkaBrokers with one node)
cat > "$STATE/broker/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STATE/broker/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=1
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=4194304
EOF
KAFKA_JVM=("$JAVA" "-Xmx$BROKER_HEAP" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dlogback.configurationFile=$STATE/logback.xml" -cp "$(cat "$CLASSPATH_FILE")")
CLUSTER_ID="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
CLUSTER_ID="A${CLUSTER_ID:1}"
"${KAFKA_JVM[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$STATE/broker/server.properties" \
    > "$STATE/broker/format.log" 2>&1 < /dev/null || die "formatting the broker's storage failed: see $STATE/broker/format.log"
"${KAFKA_JVM[@]}" kafka.Kafka "$STATE/broker/server.properties" > "$STATE/broker/broker.log" 2>&1 < /dev/null &
PIDS+=("$!")
"$JAVA" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "-Dlogback.configurationFile=$STATE/tool-logback.xml" \
    -cp "$(cat "$CLASSPATH_FILE")" "$ROOT/scripts/LocalClusterKafka.java" await "127.0.0.1:$BROKER_PORT" 1 "$WAIT" \
    > "$STATE/broker/await.log" 2>&1 || die "the broker did not start: see $STATE/broker/broker.log"
say "broker up on 127.0.0.1:$BROKER_PORT (pid ${PIDS[0]})"

# the helper is compiled once (a single-file program is compiled at every start, a second or more here)
mkdir -p "$STATE/helper"
javac -d "$STATE/helper" "$ROOT/scripts/TakeoverTime.java" || die "scripts/TakeoverTime.java does not compile"
helper() { "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$STATE/helper" TakeoverTime "$@"; }

# start_node NAME PORT: starts the node on its own data directory; its pid in NODE_PID
start_node()
{
    local name="$1" port="$2"
    "$JAVA" "-Xmx$NODE_HEAP" -XX:+ExitOnOutOfMemoryError -jar "$JAR" serve --bind 127.0.0.1 --port "$port" \
        --data-dir "$STATE/node-$name/data" --partitions 1 --cluster kafka --kafka-bootstrap "127.0.0.1:$BROKER_PORT" \
        --node-id "node-$name" --advertise "http://127.0.0.1:$port" --kafka-topic-prefix takeover \
        --kafka-unsafe-single-broker --kafka-session-timeout "${SESSION}s" "${NODE_ARGS[@]+"${NODE_ARGS[@]}"}" \
        >> "$STATE/node-$name/node.log" 2>&1 < /dev/null &
    NODE_PID="$!"
    PIDS+=("$NODE_PID")
}

# kill_node PID: SIGKILL, and waits (bounded) until it has exited
kill_node()
{
    kill -KILL "$1" 2> /dev/null || true
    local i
    for i in $(seq 1 300); do
        kill -0 "$1" 2> /dev/null || { wait "$1" 2> /dev/null || true; return 0; }
        sleep 0.1
    done
    die "pid $1 did not exit after SIGKILL"
}

# await_live PORT PID: until /health/live answers 200
await_live()
{
    local i
    for i in $(seq 1 $((WAIT * 5))); do
        kill -0 "$2" 2> /dev/null || die "the node on port $1 (pid $2) exited; see $STATE/node-*/node.log"
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/health/live" || true)" = "200" ] \
            && return 0
        sleep 0.2
    done
    die "the node on port $1 did not answer /health/live within $WAIT s"
}

takeover_seconds()
{
    curl -s --max-time 5 "$1/metrics" | sed -n 's/^tokenmeter_partition_takeover_seconds{partition="0"} //p'
}

# counted_after URL COUNT SINCE_MS: prints the ms from SINCE_MS to URL counting COUNT events (consistent=true)
counted_after()
{
    local out
    out="$(helper await "$1" "$TENANT" "$2" "$WAIT" "$3")" || die "the count was not reached on $1 (see above)"
    sed -n 's/.*counted_after_ms=\([0-9]*\).*/\1/p' <<< "$out"
}

last_served_line()
{
    grep 'served by this node' "$1" | tail -n 1 | sed 's/^.*partition 0 served/partition 0 served/'
}

seconds() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }

say "load average: $(uptime | sed 's/.*load average: //')"
start_node a "$PORT_A"
PID_A="$NODE_PID"
await_live "$PORT_A" "$PID_A"
counted_after "$URL_A" 0 "$(now_ms)" > /dev/null
say "node A serves partition 0 (pid $PID_A); loading $EVENTS events of tenant $TENANT"

load_start="$(now_ms)"
helper load "$URL_A" "$TENANT" "$EVENTS" "$CONNECTIONS" "$BATCH" "$LOAD_WAIT" | tee "$STATE/load.out" >&2 \
    || die "loading failed"
counted_ms="$(counted_after "$URL_A" "$EVENTS" "$load_start")"
load_rate="$(grep -o 'load_events_per_second=[0-9]*' "$STATE/load.out" | cut -d= -f2)"
say "all $EVENTS events counted on A, $(seconds "$counted_ms") s after the load began; load average:" \
    "$(uptime | sed 's/.*load average: //')"
sleep "$SETTLE"
log_bytes="$(du -sb "$STATE/broker/data" | cut -f1)"

# restart_owner PAUSE: kill -9 of A, PAUSE seconds, A started again on its own data; sets restart_ms (kill to the
# exact count), restart_start_ms (start to the exact count), restart_metric and restart_line
restart_owner()
{
    local kill_ms start_ms
    kill_ms="$(now_ms)"
    kill_node "$PID_A"
    sleep "$1"
    start_ms="$(now_ms)"
    start_node a "$PORT_A"
    PID_A="$NODE_PID"
    restart_ms="$(counted_after "$URL_A" "$EVENTS" "$kill_ms")"
    restart_start_ms=$((restart_ms - (start_ms - kill_ms)))
    restart_metric="$(takeover_seconds "$URL_A")"
    restart_line="$(last_served_line "$STATE/node-a/node.log")"
}

# (b1) the owner restarts on its own data within its session
say "(b1) kill -9 of A, started again at once"
restart_owner 0
b1_ms="$restart_ms" b1_start_ms="$restart_start_ms" b1_metric="$restart_metric" b1_line="$restart_line"
say "(b1) A counts all again $(seconds "$b1_ms") s after the kill ($(seconds "$b1_start_ms") s after its start);" \
    "takeover_seconds $b1_metric; $b1_line"

# (b2) the owner restarts on its own data after its session has ended
sleep 3
say "(b2) kill -9 of A, started again after the session ($((SESSION + 2)) s)"
restart_owner $((SESSION + 2))
b2_start_ms="$restart_start_ms" b2_metric="$restart_metric" b2_line="$restart_line"
say "(b2) A counts all again $(seconds "$b2_start_ms") s after its start; takeover_seconds $b2_metric; $b2_line"

# (a) a node that never held the partition takes over
say "(a) node B (empty data directory) joins"
start_node b "$PORT_B"
PID_B="$NODE_PID"
await_live "$PORT_B" "$PID_B"
for i in $(seq 1 $((WAIT * 5))); do
    members="$(curl -s --max-time 2 "$URL_B/v1/cluster" | jq -r '[.nodes[].id] | sort | join(",")' 2> /dev/null || true)"
    owner="$(curl -s --max-time 2 "$URL_B/v1/cluster" | jq -r '.partitions[0].owner' 2> /dev/null || true)"
    [ "$members" = "node-a,node-b" ] && [ "$owner" = "node-a" ] && break
    [ "$i" -lt $((WAIT * 5)) ] || die "B does not see both nodes with A owning partition 0 (members $members, owner $owner)"
    sleep 0.2
done
counted_after "$URL_B" "$EVENTS" "$(now_ms)" > /dev/null
say "(a) both in the group, A owns partition 0 (B forwards the usage to it); kill -9 of A"
sleep 2
kill_ms="$(now_ms)"
kill_node "$PID_A"
a_ms="$(counted_after "$URL_B" "$EVENTS" "$kill_ms")"
a_metric="$(takeover_seconds "$URL_B")"
a_line="$(last_served_line "$STATE/node-b/node.log")"
a_rate="$(awk -v n="$EVENTS" -v s="$a_metric" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }')"
say "(a) B counts all $(seconds "$a_ms") s after the kill; takeover_seconds $a_metric ($a_rate events/s); $a_line"

retry()
{
    curl -s --max-time 30 -H 'Content-Type: application/json' --data-binary "$1" "$URL_B/v1/events"
}
first="$(retry "[{\"id\":\"e-0\",\"tenant\":\"$TENANT\",\"model\":\"gpt-4o-mini\",\"input_tokens\":100,\"output_tokens\":10}]")"
last="$(retry "[{\"id\":\"e-$((EVENTS - 1))\",\"tenant\":\"$TENANT\",\"model\":\"gpt-4o-mini\",\"input_tokens\":100,\"output_tokens\":10}]")"
say "(a) retry of e-0 on B: $first; of e-$((EVENTS - 1)): $last"
duplicates=yes
[[ "$first" == *'"accepted":0,"duplicates":1'* ]] || duplicates=NO
[[ "$last" == *'"accepted":0,"duplicates":1'* ]] || duplicates=NO
counted_after "$URL_B" "$EVENTS" "$(now_ms)" > /dev/null

cat <<EOF
events=$EVENTS
partitions=1
session_timeout_s=$SESSION
kafka_log_bytes=$log_bytes
load_events_per_second=$load_rate
load_to_counted_s=$(seconds "$counted_ms")
a_kill_to_counted_s=$(seconds "$a_ms")
a_takeover_seconds=$a_metric
a_replay_events_per_second=$a_rate
a_retries_duplicates=$duplicates
b1_kill_to_counted_s=$(seconds "$b1_ms")
b1_start_to_counted_s=$(seconds "$b1_start_ms")
b1_takeover_seconds=$b1_metric
b2_start_to_counted_s=$(seconds "$b2_start_ms")
b2_takeover_seconds=$b2_metric
load_average=$(uptime | sed 's/.*load average: //')
a_log: $a_line
b1_log: $b1_line
b2_log: $b2_line
EOF
[ "$duplicates" = yes ] || die "a retry on the new owner was not a duplicate"

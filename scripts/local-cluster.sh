#!/usr/bin/env bash
# A tokenmeter cluster on this machine, for trials and tests (SPEC section 10, docs/cluster.md): 3 Kafka brokers
# (KRaft, each a combined broker and controller of a three-node quorum, its own JVM) and 3 tokenmeter nodes in
# cluster mode (java -jar metering-server/target/tokenmeter.jar serve --cluster kafka ...), all on 127.0.0.1, open
# access (no keys), no Docker.
#
#   scripts/local-cluster.sh up              start every member that is not running (also restarts a killed one),
#                                            wait until each node answers /health/live, print `broker N HOST:PORT`
#                                            and `node N URL`
#   scripts/local-cluster.sh status          `broker N PORT pid PID` and `node N URL pid PID` (or `... not running`);
#                                            exit 0 when all six run, 3 otherwise
#   scripts/local-cluster.sh kafka           the quorum, the brokers and the topics (replicas, in-sync replicas, the
#                                            settings tokenmeter's log topic needs)
#   scripts/local-cluster.sh down [--clean]  stop the nodes, then the brokers (SIGTERM, SIGKILL after a bounded wait),
#                                            and wait until they have exited; --clean then deletes the state folder
#
# The brokers run org.apache.kafka:kafka_2.13 from ~/.m2 (the test dependency of metering-kafka; the class path is
# resolved offline with Maven once and kept). The jar is built (offline) if it is missing.
# State: $LOCAL_CLUSTER_DIR (default ./local-cluster in the repository): cluster.env (cluster id, ports, partitions),
# broker-N/ (server.properties, data/, broker.log, pid) and node-N/ (data/, node.log, pid). `up` after `down` goes on
# with the same data; `down --clean` starts over.
# Settings, read when the state folder is made (change them with `down --clean`):
#   LOCAL_CLUSTER_BROKER_PORT (19092: brokers on 19092-19094), LOCAL_CLUSTER_CONTROLLER_PORT (19192-19194),
#   LOCAL_CLUSTER_NODE_PORT (18081-18083), LOCAL_CLUSTER_PARTITIONS (6), LOCAL_CLUSTER_TOPIC_PREFIX (tokenmeter);
# and at every start: LOCAL_CLUSTER_BROKER_HEAP (256m), LOCAL_CLUSTER_NODE_HEAP (256m), LOCAL_CLUSTER_WAIT (120, seconds
# a member may take to start), LOCAL_CLUSTER_STOP_WAIT (60, seconds before SIGKILL), JAVA_HOME.
#
# The nodes split the topic's partitions through the owners consumer group (docs/cluster.md): post to any node; it
# forwards the shares, reads and billing calls of partitions owned elsewhere to their owners. GET /v1/cluster on any node (an admin key, or none on loopback without keys) shows who owns
# what. A node killed with kill -9 has its partitions taken over by the others after the 6 s session timeout.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${LOCAL_CLUSTER_DIR:-$ROOT/local-cluster}"
JAR="$ROOT/metering-server/target/tokenmeter.jar"
COUNT=3
MEMBER_PROPERTY="-Dtokenmeter.localcluster.member"

die()
{
    echo "local-cluster: $*" >&2
    exit 1
}

usage()
{
    echo "usage: scripts/local-cluster.sh up | status | kafka | down [--clean]" >&2
    exit 2
}

find_java()
{
    if [ -n "${JAVA_HOME:-}" ]; then
        JAVA="$JAVA_HOME/bin/java"
        [ -x "$JAVA" ] || die "JAVA_HOME is $JAVA_HOME but $JAVA is not an executable: fix JAVA_HOME or unset it"
    else
        JAVA="$(command -v java || true)"
        [ -n "$JAVA" ] || die "java is not on the PATH: install a JDK 17 or newer, or set JAVA_HOME"
    fi
    local version
    version="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -1)"
    [ -n "$version" ] && [ "$version" -ge 17 ] \
        || die "$JAVA is Java ${version:-of unknown version}; tokenmeter and Kafka need 17 or newer (set JAVA_HOME)"
}

need_mvn()
{
    command -v mvn > /dev/null || die "$1, and mvn is not on the PATH to make it: install Maven, or $2"
}

ensure_jar()
{
    if [ ! -f "$JAR" ]; then
        need_mvn "$JAR is missing" "build the jar elsewhere and copy it there"
        echo "local-cluster: building $JAR (mvn -o package -DskipTests)" >&2
        (cd "$ROOT" && mvn -B -o -q package -DskipTests -pl metering-server -am) \
            || die "building the jar failed (see Maven's output above); it needs the dependencies in ~/.m2 (offline)"
        [ -f "$JAR" ] || die "Maven finished but $JAR is not there"
    fi
}

# The class path of the brokers (kafka_2.13 and its dependencies, from ~/.m2), resolved once and kept in the state.
ensure_classpath()
{
    local file="$STATE/kafka.classpath"
    if [ -s "$file" ]; then
        local entry missing=""
        local IFS=':'
        for entry in $(cat "$file"); do
            [ -e "$entry" ] || missing="$entry"
        done
        unset IFS
        [ -z "$missing" ] && return 0
        echo "local-cluster: $missing is gone: resolving the Kafka class path again" >&2
    fi
    need_mvn "the brokers' class path is not resolved yet" "give the class path of org.apache.kafka:kafka_2.13 in $file"
    echo "local-cluster: resolving the Kafka class path (mvn -o dependency:build-classpath, metering-kafka, test scope)" >&2
    # in one reactor with the modules it depends on, so a fresh clone needs nothing installed in ~/.m2; each module
    # writes the file in turn and metering-kafka, built last, leaves its own
    (cd "$ROOT" && mvn -B -o -q -pl metering-kafka -am -DskipTests package dependency:build-classpath \
        -Dmdep.includeScope=test -Dmdep.outputFile="$file.tmp" > "$STATE/classpath.log" 2>&1) \
        || die "Maven could not resolve metering-kafka's test class path offline; see $STATE/classpath.log"
    grep -q 'kafka_2.13' "$file.tmp" || die "the class path Maven gave has no kafka_2.13 jar; see $file.tmp"
    mv "$file.tmp" "$file"
}

# cluster.env: made once per state folder, read by every command after.
load_state()
{
    [ -f "$STATE/cluster.env" ] || return 1
    # shellcheck source=/dev/null
    . "$STATE/cluster.env"
    local name value
    for name in BROKER_PORT CONTROLLER_PORT NODE_PORT PARTITIONS TOPIC_PREFIX; do
        value="$(printenv "LOCAL_CLUSTER_$name" || true)"
        if [ -n "$value" ] && [ "$value" != "${!name}" ]; then
            die "LOCAL_CLUSTER_$name is $value but the cluster in $STATE was made with ${!name}: unset it, or run" \
                "'scripts/local-cluster.sh down --clean' to start over with the new value"
        fi
    done
}

make_state()
{
    local name value
    for name in BROKER_PORT CONTROLLER_PORT NODE_PORT PARTITIONS; do
        value="$(printenv "LOCAL_CLUSTER_$name" || true)"
        if [ -n "$value" ] && ! [[ "$value" =~ ^[0-9]+$ ]]; then
            die "LOCAL_CLUSTER_$name must be a number, not '$value'"
        fi
    done
    BROKER_PORT="${LOCAL_CLUSTER_BROKER_PORT:-19092}"
    CONTROLLER_PORT="${LOCAL_CLUSTER_CONTROLLER_PORT:-19192}"
    NODE_PORT="${LOCAL_CLUSTER_NODE_PORT:-18081}"
    PARTITIONS="${LOCAL_CLUSTER_PARTITIONS:-6}"
    TOPIC_PREFIX="${LOCAL_CLUSTER_TOPIC_PREFIX:-tokenmeter}"
    local port
    for port in "$BROKER_PORT" "$CONTROLLER_PORT" "$NODE_PORT"; do
        [ "$port" -ge 1024 ] && [ "$((port + COUNT - 1))" -le 65535 ] || die "ports must be 1024 to 65535, not $port"
    done
    # a Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid), not starting with '-'
    CLUSTER_ID="-"
    local attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        CLUSTER_ID="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        [ "${CLUSTER_ID:0:1}" != "-" ] && break
    done
    [ "${CLUSTER_ID:0:1}" != "-" ] || die "could not make a Kafka cluster id from /dev/urandom"
    mkdir -p "$STATE"
    cat > "$STATE/cluster.env.tmp" <<EOF
# made by scripts/local-cluster.sh up; delete the folder (down --clean) to change these
CLUSTER_ID=$CLUSTER_ID
BROKER_PORT=$BROKER_PORT
CONTROLLER_PORT=$CONTROLLER_PORT
NODE_PORT=$NODE_PORT
PARTITIONS=$PARTITIONS
TOPIC_PREFIX=$TOPIC_PREFIX
EOF
    mv "$STATE/cluster.env.tmp" "$STATE/cluster.env"
}

lock_state()
{
    mkdir -p "$STATE"
    exec 9> "$STATE/.lock"
    if command -v flock > /dev/null; then
        flock -n 9 || die "another scripts/local-cluster.sh is working on $STATE: wait for it"
    fi
}

member_dir() { echo "$STATE/$1-$2"; }
broker_port() { echo $((BROKER_PORT + $1 - 1)); }
controller_port() { echo $((CONTROLLER_PORT + $1 - 1)); }
node_port() { echo $((NODE_PORT + $1 - 1)); }
node_url() { echo "http://127.0.0.1:$(node_port "$1")"; }

bootstrap()
{
    local servers="" n
    for n in $(seq 1 $COUNT); do
        servers="$servers${servers:+,}127.0.0.1:$(broker_port "$n")"
    done
    echo "$servers"
}

# The pid of a member that runs, or nothing: the pid file's process must be alive and be that member (its command
# line carries the member's folder), so a pid the system gave to another process is never signalled.
running_pid()
{
    local dir pid
    dir="$(member_dir "$1" "$2")"
    [ -f "$dir/pid" ] || return 0
    pid="$(cat "$dir/pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    # read whole, not piped into grep -q: a broker's command line is long, and grep -q leaving early would make the
    # writer's SIGPIPE fail the pipe (pipefail) and a running member look stopped
    local args
    if [ -r "/proc/$pid/cmdline" ]; then
        args="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null || true)"
    else
        args="$(ps -o args= -p "$pid" 2> /dev/null || true)"
    fi
    [[ " $args " == *" $MEMBER_PROPERTY=$dir "* ]] && echo "$pid"
    return 0
}

port_in_use()
{
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

# The status code of GET URL on 127.0.0.1:PORT, or 000 when nothing answers within 2 s.
http_status()
{
    local port="$1" path="$2" line=""
    {
        exec 3<> "/dev/tcp/127.0.0.1/$port" \
            && printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3 \
            && read -r -t 2 line <&3
    } 2> /dev/null || true
    exec 3>&- 2> /dev/null || true
    line="${line#HTTP/1.1 }"
    line="${line%% *}"
    [[ "$line" =~ ^[0-9]{3}$ ]] && echo "$line" || echo "000"
}

write_broker_properties()
{
    local n="$1" dir voters="" i
    dir="$(member_dir broker "$n")"
    for i in $(seq 1 $COUNT); do
        voters="$voters${voters:+,}$i@127.0.0.1:$(controller_port "$i")"
    done
    mkdir -p "$dir"
    # the properties of metering-kafka's KafkaBrokers (three nodes): replication 3 and min ISR 2 for the internal
    # topics, small thread pools, a killed broker noticed in seconds
    cat > "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
replica.lag.time.max.ms=4000
num.network.threads=1
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=4194304
EOF
}

write_logback()
{
    cat > "$STATE/kafka-logback.xml" <<'EOF'
<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.kafka.clients" level="WARN"/>
  <root level="INFO"><appender-ref ref="out"/></root>
</configuration>
EOF
    # the Admin client of LocalClusterKafka: its errors only (it retries brokers that are still starting)
    sed -e 's/<root level="INFO">/<root level="ERROR">/' -e 's/level="WARN"/level="ERROR"/' "$STATE/kafka-logback.xml" \
        > "$STATE/tool-logback.xml"
}

# Runs scripts/LocalClusterKafka.java (the Admin client) with the brokers' class path.
kafka_tool()
{
    [ -f "$STATE/tool-logback.xml" ] || write_logback
    "$JAVA" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "-Dlogback.configurationFile=$STATE/tool-logback.xml" \
        -cp "$(cat "$STATE/kafka.classpath")" "$ROOT/scripts/LocalClusterKafka.java" "$@"
}

# The command line of a Kafka JVM of broker folder $1 (the storage tool's or the broker's), in KAFKA_JVM.
kafka_jvm()
{
    KAFKA_JVM=("$JAVA" "-Xmx${LOCAL_CLUSTER_BROKER_HEAP:-256m}" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k
        -Djava.awt.headless=true "-Dlogback.configurationFile=$STATE/kafka-logback.xml" "$MEMBER_PROPERTY=$1"
        -cp "$(cat "$STATE/kafka.classpath")")
}

format_brokers()
{
    local n dir pids=() failed=""
    for n in $(seq 1 $COUNT); do
        dir="$(member_dir broker "$n")"
        if [ ! -f "$dir/data/meta.properties" ]; then
            kafka_jvm "$dir"
            "${KAFKA_JVM[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$dir/server.properties" \
                > "$dir/format.log" 2>&1 < /dev/null 9>&- &
            pids+=("$n:$!")
        fi
    done
    local entry
    for entry in "${pids[@]+"${pids[@]}"}"; do
        wait "${entry#*:}" || failed="$failed broker-${entry%%:*}"
    done
    for entry in $failed; do
        echo "--- $STATE/$entry/format.log" >&2
        tail -n 20 "$STATE/$entry/format.log" >&2 || true
    done
    [ -z "$failed" ] || die "formatting the storage of$failed failed (above)"
}

start_broker()
{
    local n="$1" dir
    dir="$(member_dir broker "$n")"
    # setsid: the member outlives this script and the terminal's Ctrl-C; `down` stops it by its pid. 9>&-: it must
    # not hold this script's lock (fd 9)
    kafka_jvm "$dir"
    setsid "${KAFKA_JVM[@]}" kafka.Kafka "$dir/server.properties" >> "$dir/broker.log" 2>&1 < /dev/null 9>&- &
    echo "$!" > "$dir/pid"
}

start_node()
{
    local n="$1" dir port
    dir="$(member_dir node "$n")"
    port="$(node_port "$n")"
    mkdir -p "$dir/data"
    setsid "$JAVA" "-Xmx${LOCAL_CLUSTER_NODE_HEAP:-256m}" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError "$MEMBER_PROPERTY=$dir" \
        -jar "$JAR" serve --bind 127.0.0.1 --port "$port" --data-dir "$dir/data" --partitions "$PARTITIONS" \
        --dedup-capacity 200000 \
        --cluster kafka --kafka-bootstrap "$(bootstrap)" --node-id "node-$n" --advertise "$(node_url "$n")" \
        --kafka-topic-prefix "$TOPIC_PREFIX" \
        >> "$dir/node.log" 2>&1 < /dev/null 9>&- &
    echo "$!" > "$dir/pid"
}

# Waits (bounded) until node N answers /health/live; fails with the end of its log when it exits or takes too long.
await_node()
{
    local n="$1" pid="$2" dir wait="${LOCAL_CLUSTER_WAIT:-120}" start=$SECONDS
    dir="$(member_dir node "$n")"
    while [ $((SECONDS - start)) -lt "$wait" ]; do
        if ! kill -0 "$pid" 2> /dev/null; then
            echo "--- $dir/node.log" >&2
            tail -n 20 "$dir/node.log" >&2 || true
            die "node $n (pid $pid) exited while starting (its log above)"
        fi
        [ "$(http_status "$(node_port "$n")" /health/live)" = "200" ] && return 0
        sleep 0.5
    done
    die "node $n (pid $pid) did not answer /health/live within $wait s; see $dir/node.log (it is still running:" \
        "scripts/local-cluster.sh down stops it)"
}

check_free()
{
    local what="$1" port="$2"
    port_in_use "$port" && die "port $port ($what) is in use by another process: stop it, or run" \
        "'scripts/local-cluster.sh down --clean' and set LOCAL_CLUSTER_BROKER_PORT, LOCAL_CLUSTER_CONTROLLER_PORT or" \
        "LOCAL_CLUSTER_NODE_PORT"
    return 0
}

cmd_up()
{
    find_java
    ensure_jar
    lock_state
    load_state || make_state
    local n started=0
    local brokers_down=() nodes_down=()
    for n in $(seq 1 $COUNT); do
        [ -n "$(running_pid broker "$n")" ] || brokers_down+=("$n")
        [ -n "$(running_pid node "$n")" ] || nodes_down+=("$n")
    done
    # every port first, so that a port in use stops `up` before anything is started
    for n in "${brokers_down[@]+"${brokers_down[@]}"}"; do
        check_free "broker $n" "$(broker_port "$n")"
        check_free "controller of broker $n" "$(controller_port "$n")"
    done
    for n in "${nodes_down[@]+"${nodes_down[@]}"}"; do
        check_free "node $n" "$(node_port "$n")"
    done
    if [ ${#brokers_down[@]} -eq 0 ] && [ ${#nodes_down[@]} -eq 0 ]; then
        echo "local-cluster: already up ($STATE)" >&2
    fi
    if [ ${#brokers_down[@]} -gt 0 ]; then
        ensure_classpath
        write_logback
        for n in "${brokers_down[@]}"; do
            write_broker_properties "$n"
        done
        format_brokers
        for n in "${brokers_down[@]}"; do
            start_broker "$n"
            started=$((started + 1))
        done
    fi
    if [ ${#brokers_down[@]} -gt 0 ] || [ ${#nodes_down[@]} -gt 0 ]; then
        [ -s "$STATE/kafka.classpath" ] || ensure_classpath
        # a node started before the three brokers are registered would make the log topic with fewer replicas
        # and refuse to (tokenmeter needs replication factor 3)
        kafka_tool await "$(bootstrap)" "$COUNT" "${LOCAL_CLUSTER_WAIT:-120}" > "$STATE/kafka-await.log" 2>&1 \
            || die "$(tail -n 1 "$STATE/kafka-await.log"); see $STATE/broker-*/broker.log"
    fi
    # one after another, each waited for, so the group's rebalances come one at a time
    local pid
    for n in "${nodes_down[@]+"${nodes_down[@]}"}"; do
        start_node "$n"
        await_node "$n" "$(cat "$(member_dir node "$n")/pid")"
        started=$((started + 1))
    done
    for n in $(seq 1 $COUNT); do
        echo "broker $n 127.0.0.1:$(broker_port "$n")"
    done
    for n in $(seq 1 $COUNT); do
        pid="$(running_pid node "$n")"
        [ -n "$pid" ] || die "node $n stopped after it had started; see $(member_dir node "$n")/node.log"
        echo "node $n $(node_url "$n")"
    done
    [ "$started" -eq 0 ] || echo "local-cluster: started $started member(s); state in $STATE" >&2
}

cmd_status()
{
    if ! load_state; then
        echo "local-cluster: no cluster in $STATE (scripts/local-cluster.sh up makes one)" >&2
        return 3
    fi
    local n pid all=0
    for n in $(seq 1 $COUNT); do
        pid="$(running_pid broker "$n")"
        if [ -n "$pid" ]; then
            echo "broker $n $(broker_port "$n") pid $pid"
        else
            echo "broker $n $(broker_port "$n") not running"
            all=3
        fi
    done
    for n in $(seq 1 $COUNT); do
        pid="$(running_pid node "$n")"
        if [ -n "$pid" ]; then
            echo "node $n $(node_url "$n") pid $pid"
        else
            echo "node $n $(node_url "$n") not running"
            all=3
        fi
    done
    return $all
}

cmd_kafka()
{
    load_state || die "no cluster in $STATE (scripts/local-cluster.sh up makes one)"
    find_java
    [ -s "$STATE/kafka.classpath" ] || die "$STATE/kafka.classpath is missing: run scripts/local-cluster.sh up"
    kafka_tool describe "$(bootstrap)" 2> "$STATE/kafka-describe.log" \
        || die "Kafka at $(bootstrap) did not answer: $(grep -m1 -i 'exception' "$STATE/kafka-describe.log" || true)"
}

# Stops the members of one kind: SIGTERM to each, then waits (bounded) and SIGKILLs what is left.
stop_members()
{
    local kind="$1" wait="$2" n pid start
    local pids=() names=()
    for n in $(seq 1 $COUNT); do
        pid="$(running_pid "$kind" "$n")"
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2> /dev/null || true
            pids+=("$pid")
            names+=("$kind $n")
        else
            rm -f "$(member_dir "$kind" "$n")/pid"
        fi
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    local i alive
    start=$SECONDS
    while [ $((SECONDS - start)) -lt "$wait" ]; do
        alive=0
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2> /dev/null && alive=1
        done
        [ "$alive" -eq 1 ] || break
        sleep 0.2
    done
    for i in "${!pids[@]}"; do
        pid="${pids[$i]}"
        if kill -0 "$pid" 2> /dev/null; then
            echo "local-cluster: ${names[$i]} (pid $pid) still runs $wait s after SIGTERM: SIGKILL" >&2
            kill -KILL "$pid" 2> /dev/null || true
        fi
    done
    for i in "${!pids[@]}"; do
        pid="${pids[$i]}"
        start=$SECONDS
        while kill -0 "$pid" 2> /dev/null; do
            [ $((SECONDS - start)) -lt 30 ] || die "${names[$i]} (pid $pid) did not exit after SIGKILL"
            sleep 0.2
        done
        echo "stopped ${names[$i]} pid $pid"
        n="${names[$i]#* }"
        rm -f "$(member_dir "$kind" "$n")/pid"
    done
}

cmd_down()
{
    local clean=0
    case "${1:-}" in
        "") ;;
        --clean) clean=1 ;;
        *) usage ;;
    esac
    if ! load_state; then
        echo "local-cluster: no cluster in $STATE: nothing to stop" >&2
        return 0
    fi
    lock_state
    local wait="${LOCAL_CLUSTER_STOP_WAIT:-60}"
    [[ "$wait" =~ ^[0-9]+$ ]] || die "LOCAL_CLUSTER_STOP_WAIT must be a number of seconds, not '$wait'"
    # the nodes first: a node stopping still writes its last drain and snapshot through the brokers
    local stopped
    stopped="$(stop_members node "$wait"; stop_members broker "$wait")"
    if [ -n "$stopped" ]; then
        echo "$stopped"
    else
        echo "local-cluster: nothing was running ($STATE)" >&2
    fi
    if [ "$clean" -eq 1 ]; then
        rm -rf "$STATE"
        echo "local-cluster: deleted $STATE" >&2
    fi
}

case "${1:-}" in
    up) [ $# -eq 1 ] || usage; cmd_up ;;
    status) [ $# -eq 1 ] || usage; cmd_status ;;
    kafka) [ $# -eq 1 ] || usage; cmd_kafka ;;
    down) [ $# -le 2 ] || usage; cmd_down "${2:-}" ;;
    *) usage ;;
esac

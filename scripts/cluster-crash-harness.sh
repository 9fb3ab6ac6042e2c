#!/usr/bin/env bash
# Long run of the cluster crash harness (docs/robustness.md, "The cluster crash harness"): 3 real Kafka brokers and 3
# tokenmeter nodes, each its own process, 4 partitions; 3 retrying gateways post to random nodes while NODE_KILLS
# kill -9s of random nodes and, separately, BROKER_KILLS kill -9s of one broker at a time come in a random order.
#   scripts/cluster-crash-harness.sh [NODE_KILLS] [BROKER_KILLS] [SEED]      e.g. scripts/cluster-crash-harness.sh 30 10
# Prints (and leaves in metering-server/target/cluster-crash-harness-report.txt) the faults survived and the events
# acknowledged, lost and doubled. About 20 s a fault on two cores. Offline once the build has run online.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_KILLS="${1:-30}"
BROKER_KILLS="${2:-10}"
SEED_FLAG=""
if [ -n "${3:-}" ]; then SEED_FLAG="-Dharness.seed=$3"; fi
mvn -B -q -pl metering-server -am test -Dtest=ClusterCrashHarnessTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dtest.fourPartitions.skip=true -Dharness.nodeKills="$NODE_KILLS" -Dharness.brokerKills="$BROKER_KILLS" $SEED_FLAG
cat metering-server/target/cluster-crash-harness-report.txt

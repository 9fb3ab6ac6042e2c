#!/usr/bin/env bash
# Long run of the crash harness (docs/robustness.md): KILLS kill -9s of a server under load from 3 gateways, whose
# batches mix 12 tenants, so with several partitions every batch is split.
#   scripts/crash-harness.sh [KILLS] [SEED] [PARTITIONS]      e.g. scripts/crash-harness.sh 60 "" 4
# Prints (and leaves in metering-server/target/crash-harness-report.txt) the kills survived, events, lost, doubled.
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS="${1:-60}"
SEED_FLAG=""
if [ -n "${2:-}" ]; then SEED_FLAG="-Dharness.seed=$2"; fi
PARTITIONS="${3:-4}"
mvn -B -q install -DskipTests
mvn -B -q -pl metering-server test -Dtest=CrashHarnessTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dharness.kills="$KILLS" -Dtest.partitions="$PARTITIONS" -Dtest.fourPartitions.skip=true $SEED_FLAG
cat metering-server/target/crash-harness-report.txt

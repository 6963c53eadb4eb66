#!/usr/bin/env bash
# Load test of the broker's HTTP API on loopback: 2,000 mixed calls (list, create, approve
# with TOTP step-up) from 32 concurrent clients against a real server on SQLite; reports
# p50/p99 latency per kind and throughput, then checks that no call failed and no state was
# lost. Target: p99 below 20 ms for create/approve (no STS involved). Bounded: the run stops
# after its 2,000 calls, or fails after 120 s. The store is durable as in production
# (SQLite WAL, synchronous = FULL): a create or an approve is one write transaction, and the
# store's group commit lets concurrent writes share one COMMIT; the report says how many
# writes went into how many SQLite transactions.
#
# Usage: bench/api-load.sh            optimised build (the bench profile: slow to compile)
#        PROFILE=dev bench/api-load.sh  the test profile (dependencies optimised, ours not)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"

if [ "${PROFILE:-bench}" = dev ]; then
  exec cargo bench -p breakglass-server --bench api_load --profile dev
fi
exec cargo bench -p breakglass-server --bench api_load

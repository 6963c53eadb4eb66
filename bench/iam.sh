#!/usr/bin/env bash
# The IAM engine's two speed figures, measured in one run so they can be compared:
#   1. `evaluate/compiled` of crates/breakglass-iam/benches/eval.rs: decisions per second on a
#      compiled incident-response role (goal 2 M/s);
#   2. `sweep/largest_playbook` of crates/breakglass-config/benches/sweep.rs: one sweep of the
#      whole action catalog for the example config's largest playbook (target < 50 ms on one
#      core; needs ../shared/data/iam-data).
#
# Usage: bench/iam.sh            the bench profile (optimised, thin LTO: slow to compile)
#        PROFILE=dev bench/iam.sh  the test profile's dependencies (already built by the tests)
#                                  with the two engine crates optimised (opt-level 3, no debug
#                                  assertions or overflow checks) but without LTO: a lower bound
# Extra arguments go to criterion (e.g. --measurement-time 5).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"

args=()
if [ "${PROFILE:-bench}" = dev ]; then
  args=(--profile dev)
  for crate in breakglass-iam breakglass-config; do
    args+=(--config "profile.dev.package.\"$crate\".opt-level=3"
           --config "profile.dev.package.\"$crate\".debug-assertions=false"
           --config "profile.dev.package.\"$crate\".overflow-checks=false")
  done
fi

say "evaluation rate (breakglass-iam, benches/eval.rs)"
cargo bench "${args[@]}" -p breakglass-iam --bench eval -- evaluate/compiled "$@"
say "catalog sweep of the largest playbook (breakglass-config, benches/sweep.rs)"
cargo bench "${args[@]}" -p breakglass-config --bench sweep -- "$@"

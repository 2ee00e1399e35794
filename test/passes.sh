#!/usr/bin/env bash
# npm test's two passes over the same code:
#   current   every test, live ones on the pinned nats-server of the default image (tools/versions.json)
#   previous  the live provider and permission tests again on the previous minor line (FLUO_NATS_SERVER=previous),
#             because operators upgrade a running cluster one minor at a time and the rules move between lines
# Usage: bash test/passes.sh [current|previous|both]   (default both; both always run, exit 1 if either failed)
# Each pass writes its own vitest JSON report (out/vitest-report*.json); .ci/run sums them.
set -uo pipefail
cd "$(dirname "$0")/.."

PREVIOUS_PASS_FILES=(
  infra/accounts.live.test.ts
  infra/cluster.live.test.ts
  infra/injection.live.test.ts
  infra/regions.live.test.ts
  infra/regionsTls.live.test.ts
  infra/security.live.test.ts
  infra/serverAcceptance.live.test.ts
  streams/permissions.live.test.ts
  streams/redelivery.live.test.ts
  streams/provider/guards.live.test.ts
  streams/provider/provider.live.test.ts
  streams/provider/providerHost.live.test.ts
  test/serverVersion.live.test.ts
  test/websocket.live.test.ts
)

current() {
  rm -f out/vitest-report.json
  echo "== first pass: every test on $(npx tsx tools/versionsInUse.ts | paste -sd ';' - | sed 's/;/; /g')"
  npx vitest run
}

previous() {
  rm -f out/vitest-report-previous.json
  for f in "${PREVIOUS_PASS_FILES[@]}"; do
    # A renamed file must not silently drop out of the pass.
    [ -f "$f" ] || { echo "test/passes.sh: $f (in PREVIOUS_PASS_FILES) does not exist" >&2; return 1; }
  done
  echo "== second pass: ${#PREVIOUS_PASS_FILES[@]} live files on the previous nats-server minor (FLUO_NATS_SERVER=previous): $(FLUO_NATS_SERVER=previous npx tsx tools/versionsInUse.ts | sed -n 1p)"
  FLUO_NATS_SERVER=previous npx vitest run --outputFile.json=out/vitest-report-previous.json "${PREVIOUS_PASS_FILES[@]}"
}

status=0
case "${1:-both}" in
  current) current || status=1 ;;
  previous) previous || status=1 ;;
  both)
    current || status=1
    previous || status=1
    ;;
  *) echo "usage: bash test/passes.sh [current|previous|both]" >&2; exit 1 ;;
esac
exit "$status"

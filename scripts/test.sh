#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test under test/ with tap,
# then checks that the run left no namespaces, links or processes behind.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

before_ns=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
out=$(mktemp)
npx tap --reporter=tap "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}

# tap's own summary is a comment line; print the plain closing line CI reads.
pass=$(grep -Eo '^# \{ total: [0-9]+, pass: [0-9]+' "$out" | tail -1 | grep -Eo 'pass: [0-9]+' | grep -Eo '[0-9]+')
fail=$(grep -Eo 'fail: [0-9]+' "$out" | tail -1 | grep -Eo '[0-9]+')
rm -f "$out"

after_ns=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
leaked=$(comm -13 <(echo "$before_ns") <(echo "$after_ns") | grep -E '^nk' || true)
if [ -n "$leaked" ]; then
  echo "test: namespaces left behind: $leaked" >&2
  rc=1
fi
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit "$rc"

#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test under test/ with tap
# (end-to-end lab tests last and one at a time: each is a whole cluster), then checks that
# the run left no namespaces behind.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

before_ns=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
out=$(mktemp)
if [ $# -gt 0 ]; then
  npx tap --reporter=tap "$@" 2>&1 | tee -a "$out"
  rc=${PIPESTATUS[0]}
else
  mapfile -t main_tests < <(find test -name '*.test.ts' -not -path 'test/e2e/*' | sort)
  mapfile -t e2e_tests < <(find test/e2e -name '*.test.ts' 2>/dev/null | sort)
  npx tap --reporter=tap "${main_tests[@]}" 2>&1 | tee -a "$out"
  rc=${PIPESTATUS[0]}
  if [ ${#e2e_tests[@]} -gt 0 ]; then
    npx tap --reporter=tap --jobs=1 "${e2e_tests[@]}" 2>&1 | tee -a "$out"
    rc2=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] && rc=$rc2
  fi
fi

# tap's own summaries are comment lines; add them up into the plain closing line CI reads.
pass=0
fail=0
while read -r line; do
  p=$(grep -Eo 'pass: [0-9]+' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
  f=$(grep -Eo 'fail: [0-9]+' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
  pass=$((pass + p))
  fail=$((fail + f))
done < <(grep -E '^# \{ total: [0-9]+' "$out")
rm -f "$out"

after_ns=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
leaked=$(comm -13 <(echo "$before_ns") <(echo "$after_ns") | grep -E '^nk' || true)
if [ -n "$leaked" ]; then
  echo "test: namespaces left behind: $leaked" >&2
  rc=1
fi
echo "tests: ${pass} passed, ${fail} failed"
exit "$rc"

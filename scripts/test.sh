#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test under test/ with tap
# (compiled with the sources first, which type-checks them, and run as JavaScript; the end-to-end
# lab tests one at a time, each a whole cluster, beside the other files), then checks that
# the run left no namespaces behind. The closing block counts assertions (leaf test points,
# nested subtests included) from the TAP each tap run wrote, lists every failed, skipped and
# todo point by name, and ends with the line CI reads: `tests: N passed, N failed, N skipped`.
# Under CI=true a missing prerequisite fails instead of skipping (test/helpers/prereq.ts).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

before_ns=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
rc=0
# tap's stdout is the TAP stream (kept for the count); its stderr, the tests' logs, goes by.
# Compiled files report under their source's name (dist/test/x.test.js → test/x.test.ts), so a
# failure reads the same as when the file is run directly with `npx tap test/x.test.ts`.
tap_run() { # NAME TAP-ARGS…
  local name=$1
  shift
  npx tap --reporter=tap "$@" | sed -u 's#dist/\(test/[^ ]*\)\.test\.js#\1.test.ts#g' | tee "$runs/$name.tap"
  local r=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] && rc=$r
}
# The tests are TypeScript too: a check that reads a property that does not exist, or passes
# the wrong argument, cannot fail. On a full run they are compiled with the sources into dist/
# (which type-checks them; that counts as one assertion) and tap runs the JavaScript: loading
# every file through ts-node instead cost ~3.5 s of CPU per file. A type error still emits, so the
# tests run and the assertion fails. dist/test is rebuilt from scratch: no stale test survives
# its source.
typecheck() {
  local out r
  rm -rf dist/test
  out=$(npx tsc -p test/tsconfig.build.json 2>&1)
  r=$?
  {
    echo "TAP version 14"
    if [ $r -eq 0 ]; then echo "ok 1 - the tests type-check with the sources (tsc -p test/tsconfig.build.json)"
    else
      echo "not ok 1 - the tests type-check with the sources (tsc -p test/tsconfig.build.json)"
      echo "$out" | sed 's/^/# /'
    fi
    echo "1..1"
  } > "$runs/0-typecheck.tap"
  [ $r -ne 0 ] && echo "$out" >&2 && [ "$rc" -eq 0 ] && rc=1
  return 0
}
if [ $# -gt 0 ]; then
  tap_run 1-args "$@"
else
  typecheck
  # JavaScript needs no TypeScript loader in the test processes (tap's own fixtures runs, which
  # do load .ts files, start without TAP_* variables: test/helpers/tap-run.ts).
  export TAP_TYPE_STRIP_ONLY=1
  mapfile -t main_tests < <(find dist/test -name '*.test.js' -not -path 'dist/test/e2e/*' | sort)
  # The e2e files whose checks hold timings to a bar (failover, write blips under kills) run last,
  # in a tap run of their own (tap sorts the files it is given): by then the other files are done
  # and the lab has the machine to itself.
  late='/(chaos-ha|chaos|loadbalancer)\.test\.js$'
  mapfile -t e2e_tests < <(find dist/test/e2e -name '*.test.js' 2>/dev/null | sort | grep -Ev "$late")
  mapfile -t e2e_late < <(find dist/test/e2e -name '*.test.js' 2>/dev/null | sort | grep -E "$late")
  # Side by side: the lab e2e files one at a time (each is a whole cluster), and the other files
  # two at a time next to them. Run one after the other, the e2e files alone used one core for
  # ~17 of a CI run's ~30 minutes; with the other files one at a time beside them, those took
  # longest (~180 files, each a process start tap does not overlap). The e2e TAP goes to its file
  # (a line per finished file on stderr meanwhile) and is printed whole once both are done, so
  # stdout holds two TAP streams one after the other, as before.
  e2e_pid=
  e2e_stream() { # NAME FILES…: one tap run of lab files, one at a time
    local name=$1
    shift
    [ $# -eq 0 ] && return 0
    npx tap --reporter=tap --jobs=1 "$@" | tee "$runs/$name.raw" |
      grep --line-buffered -E '^(not )?ok [0-9]+ - dist/test/' | sed -u 's#dist/\(test/[^ ]*\)\.test\.js#\1.test.ts#; s/^/[e2e] /' >&2
    echo "${PIPESTATUS[0]}" >"$runs/$name.rc"
  }
  if [ $((${#e2e_tests[@]} + ${#e2e_late[@]})) -gt 0 ]; then
    ( e2e_stream 2-e2e "${e2e_tests[@]}"; e2e_stream 3-e2e-late "${e2e_late[@]}" ) &
    e2e_pid=$!
  fi
  tap_run 1-main --jobs="${NETKUBE_TEST_MAIN_JOBS:-2}" "${main_tests[@]}"
  if [ -n "$e2e_pid" ]; then
    wait "$e2e_pid"
    for name in 2-e2e 3-e2e-late; do
      [ -f "$runs/$name.raw" ] || continue
      sed 's#dist/\(test/[^ ]*\)\.test\.js#\1.test.ts#g' "$runs/$name.raw" | tee "$runs/$name.tap"
      rm -f "$runs/$name.raw"
      r=$(cat "$runs/$name.rc" 2>/dev/null || echo 1)
      rm -f "$runs/$name.rc"
      [ "$rc" -eq 0 ] && rc=$r
    done
  fi
fi

after_ns=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
leaked=$(comm -13 <(echo "$before_ns") <(echo "$after_ns") | grep -E '^nk' || true)
if [ -n "$leaked" ]; then
  echo "test: namespaces left behind: $leaked" >&2
  rc=1
fi
echo
node dist/scripts/tap-summary.js "$runs"/*.tap
summary=$?
[ "$rc" -eq 0 ] && rc=$summary
exit "$rc"

#!/usr/bin/env bash
# One-shot GPU check (issue 16): everything the GPU deployment needs, checked at once, one table.
#
#   scripts/gpu-check.sh            # from anywhere; logs under target/gpu-check/
#
# On a machine with a CUDA GPU and a CUDA libtorch (PYTORCH_LIBRARY_PATH, or /opt/libtorch/lib):
#   builds the -Pcuda jar, checks it, runs the unit tests of the start-up path, the GPU-tagged tests
#   (-Pgpu: the device check and KV sizing on the real card, and whatever other modules tag gpu)
#   and the serving benchmark on cuda:0, then prints one table. Budget: 10 minutes in all.
# Anywhere else (CPU only): the same CPU-safe steps (build, jar check, the -Pcuda jar's fail-fast
#   start on a machine without CUDA, the unit tests) and each GPU step reported as SKIPPED with why.
#
# Environment: GPU_CHECK_BUDGET_S (default 570), GPU_CHECK_MVN_FLAGS (default "-o": offline from
# ~/.m2; set it empty on a fresh machine with network), PYTORCH_LIBRARY_PATH / PYTORCH_VERSION /
# PYTORCH_FLAVOR (defaults for the official libtorch 2.7.1+cu128 when a CUDA libtorch is found).
# Exit status: 0 when no step failed (skips are not failures), 1 otherwise.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
OUT="${GPU_CHECK_OUT:-$ROOT/target/gpu-check}"
mkdir -p "$OUT"
touch "$OUT/started"
BUDGET=${GPU_CHECK_BUDGET_S:-570}
START=$(date +%s)
MVN=(./mvnw -B ${GPU_CHECK_MVN_FLAGS--o})
CUDA_JAR=server/target/llavast-server-cuda.jar
FLAVOR=cu128
export DJL_OFFLINE=true

ROWS=()
FAILED=0
row() { ROWS+=("$1|$2|$3|$4"); [ "$2" = FAIL ] && FAILED=1; return 0; }
left() { echo $((BUDGET - ($(date +%s) - START))); }

# "N run, F failed, S skipped" over every module's surefire summary in a Maven log.
tests_summary() {
  grep -E '^\[(INFO|ERROR|WARNING)\] Tests run: [0-9]+, Failures' "$1" | grep -v ' in ' |
    awk -F', ' '{gsub(/.*Tests run: /,"",$1); gsub("Failures: ","",$2); gsub("Errors: ","",$3);
      gsub("Skipped: ","",$4); r+=$1; f+=$2+$3; s+=$4}
      END {printf "%d run, %d failed, %d skipped", r, f, s}'
}

# step NAME LOGFILE CMD...: runs CMD within what is left of the budget; sets STEP_RC and STEP_S.
step() {
  local name=$1 log=$2
  shift 2
  local t0 budget
  t0=$(date +%s)
  budget=$(left)
  if [ "$budget" -le 10 ]; then
    STEP_RC=124
    STEP_S=0
    echo "out of time before $name" >"$log"
    return
  fi
  echo "== $name (up to ${budget}s)" >&2
  timeout --kill-after=10 "$budget" "$@" >"$log" 2>&1
  STEP_RC=$?
  STEP_S=$(($(date +%s) - t0))
}

# --------------------------------------------------------------------------- what machine is this
GPU_NAMES=""
if command -v nvidia-smi >/dev/null 2>&1; then
  GPU_NAMES=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | paste -sd ';' -)
fi
if [ -z "${PYTORCH_LIBRARY_PATH:-}" ] && [ -f /opt/libtorch/lib/libtorch_cuda.so ]; then
  export PYTORCH_LIBRARY_PATH=/opt/libtorch/lib
fi
CUDA_LIBTORCH=""
if [ -n "${PYTORCH_LIBRARY_PATH:-}" ] && [ -f "$PYTORCH_LIBRARY_PATH/libtorch_cuda.so" ]; then
  CUDA_LIBTORCH=$PYTORCH_LIBRARY_PATH
  export PYTORCH_VERSION=${PYTORCH_VERSION:-2.7.1} PYTORCH_FLAVOR=${PYTORCH_FLAVOR:-$FLAVOR}
fi
GPU_SKIP=""
if [ -z "$GPU_NAMES" ]; then
  GPU_SKIP="SKIPPED: no CUDA GPU on this machine (nvidia-smi lists none)"
elif [ -z "$CUDA_LIBTORCH" ]; then
  GPU_SKIP="SKIPPED: no CUDA libtorch: unzip libtorch 2.7.1+cu128 and set PYTORCH_LIBRARY_PATH to its lib/"
fi

# --------------------------------------------------------------------------- 1. jar + start-up tests
# One reactor pass: the -Pcuda jar, and the CPU-safe tests of the start-up path (the device check
# and KV sizing with fixed device reports, the image/profile/overlay agreement).
UNIT_TESTS='DeviceCheckTest,KvPoolSizerTest,CudaImageTest,ServerConfigTest'
step "build -Pcuda" "$OUT/build.log" "${MVN[@]}" -pl server,k8s -am package -Pcuda \
  -Djacoco.skip=true -Dtest="$UNIT_TESTS" -Dsurefire.failIfNoSpecifiedTests=false
BUILD_RC=$STEP_RC
BUILD_S=$STEP_S
if [ -f "$CUDA_JAR" ] && [ "$CUDA_JAR" -nt "$OUT/started" ]; then
  row "build -Pcuda" PASS "$BUILD_S" "$CUDA_JAR $(du -h "$CUDA_JAR" | cut -f1)"
else
  row "build -Pcuda" FAIL "$BUILD_S" "rc $BUILD_RC, see $OUT/build.log"
fi
summary=$(tests_summary "$OUT/build.log")
if [ "$BUILD_RC" = 0 ]; then
  row "start-up tests" PASS "" "$summary (${UNIT_TESTS//,/ })"
else
  row "start-up tests" FAIL "" "rc $BUILD_RC, $summary, see $OUT/build.log"
fi

# --------------------------------------------------------------------------- 2. what the jar holds
if [ -f "$CUDA_JAR" ]; then
  t0=$(date +%s)
  listing=$(unzip -l "$CUDA_JAR")
  cpu_natives=$(grep -c ' pytorch/cpu' <<<"$listing")
  jni=$(grep -c " jnilib/linux-x86_64/$FLAVOR/libdjl_torch.so" <<<"$listing")
  if [ "$cpu_natives" = 0 ] && [ "$jni" = 1 ]; then
    row "jar contents" PASS $(($(date +%s) - t0)) "no CPU libtorch; jnilib/linux-x86_64/$FLAVOR/libdjl_torch.so present"
  else
    row "jar contents" FAIL $(($(date +%s) - t0)) "$cpu_natives CPU-native entries, $jni $FLAVOR JNI libraries"
  fi
fi

# --------------------------------------------------------------------------- 3. fail fast, no CUDA
# The -Pcuda jar with the DJL variables unset must refuse --devices cuda:0 with exit 78 and name
# the variable to set (this is what a misconfigured GPU pod does). On a GPU machine it is the same:
# the variables are what make CUDA libtorch load.
if [ -f "$CUDA_JAR" ]; then
  cache=$(mktemp -d)
  step "fail-fast start" "$OUT/fail-fast.log" env -u PYTORCH_LIBRARY_PATH -u PYTORCH_VERSION \
    -u PYTORCH_FLAVOR DJL_CACHE_DIR="$cache" java -jar "$CUDA_JAR" --devices=cuda:0 \
    --host=127.0.0.1 --port=0 --metrics-port=-1 --http-port=-1
  rm -rf "$cache"
  if [ "$STEP_RC" = 78 ] && grep -q 'PYTORCH_LIBRARY_PATH' "$OUT/fail-fast.log"; then
    row "fail-fast start" PASS "$STEP_S" "exit 78: $(grep -o 'needs a CUDA build of libtorch[^.]*' "$OUT/fail-fast.log" | head -1)"
  else
    row "fail-fast start" FAIL "$STEP_S" "exit $STEP_RC (want 78 naming PYTORCH_LIBRARY_PATH), see $OUT/fail-fast.log"
  fi
fi

# --------------------------------------------------------------------------- 5. GPU-tagged tests
if [ -n "$GPU_SKIP" ]; then
  row "gpu tests (-Pgpu)" SKIP 0 "$GPU_SKIP"
else
  step "gpu tests (-Pgpu)" "$OUT/gpu-tests.log" "${MVN[@]}" -pl models,server -am test -Pgpu \
    -Djacoco.skip=true -Dsurefire.failIfNoSpecifiedTests=false
  summary=$(tests_summary "$OUT/gpu-tests.log")
  if [ "$STEP_RC" = 0 ]; then
    row "gpu tests (-Pgpu)" PASS "$STEP_S" "$summary"
  else
    row "gpu tests (-Pgpu)" FAIL "$STEP_S" "rc $STEP_RC, $summary, see $OUT/gpu-tests.log"
  fi
  while read -r line; do
    row "  measured" INFO "" "${line#*GPU-CHECK }"
  done < <(grep -h 'GPU-CHECK ' "$OUT/gpu-tests.log" | sort -u)
fi

# --------------------------------------------------------------------------- 6. throughput on cuda:0
if [ -n "$GPU_SKIP" ]; then
  row "benchmark cuda:0" SKIP 0 "$GPU_SKIP"
else
  step "benchmark cuda:0" "$OUT/bench.log" "${MVN[@]}" -pl server -am test -Pslow \
    -Djacoco.skip=true -Dtest=ServingBenchmarkTest -Dsurefire.failIfNoSpecifiedTests=false \
    -Dllavast.bench.devices=cuda:0
  if [ "$STEP_RC" = 0 ]; then
    row "benchmark cuda:0" PASS "$STEP_S" "small preset, 8 concurrent, 128 new tokens"
  else
    row "benchmark cuda:0" FAIL "$STEP_S" "rc $STEP_RC, see $OUT/bench.log"
  fi
  while read -r line; do
    row "  measured" INFO "" "$line"
  done < <(grep -hE '^(TTFT|throughput)' "$OUT/bench.log")
fi

# --------------------------------------------------------------------------- the table
{
  echo
  echo "gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname): GPU: ${GPU_NAMES:-none};" \
    "CUDA libtorch: ${CUDA_LIBTORCH:-none}; $(($(date +%s) - START)) s of ${BUDGET} s"
  printf '%-20s | %-4s | %5s | %s\n' step result s detail
  printf '%-20s-+-%-4s-+-%5s-+-%s\n' "--------------------" "----" "-----" "------"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r name status secs detail <<<"$r"
    printf '%-20s | %-4s | %5s | %s\n' "$name" "$status" "$secs" "$detail"
  done
} | tee "$OUT/table.txt"
exit "$FAILED"

#!/usr/bin/env bash
# Runs every benchmark in sequence with its default (bounded) settings; about 12 minutes.
#   bench/run_all.sh                 # defaults
#   BENCH_LARGE=1 bench/run_all.sh   # plus the 1,000,000-row janitor cases (a few minutes more)
#   PYTHON=/path/to/python bench/run_all.sh
# Needs wrk (apt-get install -y wrk); the Docker benchmark skips itself without a daemon.
# Benchmarks are not tests: CI does not run them. Each one only uses 127.0.0.1 and stops
# every process it started.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-/work/venv/bin/python}"
[[ -x "$python" ]] || python="$(command -v python3)"

janitor_flags=()
[[ "${BENCH_LARGE:-0}" == 1 ]] && janitor_flags+=(--large)

failed=()
run() {
    echo
    echo "################ $* ($(date -u +%H:%M:%S) UTC)"
    if ! "$python" "$here/$1" "${@:2}"; then
        failed+=("$1")
    fi
}

run create_to_running.py
run api_throughput.py
run janitor_scale.py "${janitor_flags[@]}"
run provision_burst.py
run provision_burst.py --history-rounds 3
run docker_overhead.py
run clone_create.py
run exec_roundtrip.py
run memory.py
run event_streams.py
run dashboard_load.py
run terminal.py
run idle_cost.py

echo
if ((${#failed[@]})); then
    echo "run_all: failed: ${failed[*]}"
    exit 1
fi
echo "run_all: every benchmark ran"

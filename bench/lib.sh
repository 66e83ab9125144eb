# Shared by the comparison scripts (sourced, not run).

# The anchors run without per-source limits; so does shoal here. Its defaults bound one
# source's new torrents and connections, which a load tester on one address would hit.
export SHOAL_LIMITS__MAX_NEW_TORRENTS_PER_PREFIX_PER_MINUTE=0 SHOAL_LIMITS__MAX_TORRENTS=0 \
  SHOAL_HTTP__MAX_CONNECTIONS_PER_IP=0

# Tracker names: "shoal" is $SHOAL (target/release/shoal unless set); BENCH_SHOALS names
# more shoal builds, "before=/tmp/a after=/tmp/b" (bench/ab.sh compares two that way;
# not SHOAL_…, which shoal would read as configuration).
# shoal_bin NAME: the binary NAME stands for; fails, saying so, if NAME is not a shoal.
shoal_bin() {
  local pair
  for pair in "shoal=${SHOAL:-target/release/shoal}" ${BENCH_SHOALS:-}; do
    [ "${pair%%=*}" = "$1" ] && { echo "${pair#*=}"; return 0; }
  done
  echo "unknown tracker $1" >&2; return 1
}

# need_shoals NAME...: exits unless the binary of every shoal among the names is there.
need_shoals() {
  local name bin
  for name in "$@"; do
    bin=$(shoal_bin "$name" 2>/dev/null) || continue
    [ -x "$bin" ] || { echo "missing $bin (cargo build --release)" >&2; exit 1; }
  done
}

# stop PID: SIGTERM, then SIGKILL if it lingers past 5 s.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# cpu_ticks PID: user + system CPU time so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# machine_line: date, architecture, cores and CPU model, for the results header.
machine_line() {
  echo "# $(date -u +%F) $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
}

# alternate ROUNDS RESULTS NAME...: runs `run_one NAME` for each name in turn, ROUNDS
# times (A B A B …), appending every line to RESULTS and echoing it.
alternate() {
  local rounds=$1 results=$2; shift 2
  for _ in $(seq "$rounds"); do
    for name in "$@"; do
      run_one "$name" | tee -a "$results"
    done
  done
}

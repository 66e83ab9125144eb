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

# udp_load_toml PORT DURATION SUMMARIZE: aquatic_udp_load_test's defaults with one
# worker, against 127.0.0.1:PORT for DURATION s, averaging the last SUMMARIZE s.
udp_load_toml() {
  aquatic_udp_load_test -p | sed \
    -e "s/^server_address = .*/server_address = \"127.0.0.1:$1\"/" \
    -e "s/^duration = .*/duration = $2/" \
    -e "s/^summarize_last = .*/summarize_last = $3/" \
    -e "s/^workers = .*/workers = 1/"
}

# ws_load_toml PORT DURATION: aquatic_ws_load_test's defaults against 127.0.0.1:PORT.
ws_load_toml() {
  aquatic_ws_load_test -p | sed -e "s/^server_address = .*/server_address = \"127.0.0.1:$1\"/" \
    -e "s/^duration = .*/duration = $2/"
}

# ws_shoal_setup DIR PORT: a self-signed certificate (DIR/cert.pem, DIR/key.pem; the
# WebTorrent load tester speaks wss:// only) and DIR/shoal.toml: one worker, TLS on
# 127.0.0.1:PORT, no per-connection torrent cap (the load generator announces to random
# torrents on each connection).
ws_shoal_setup() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/key.pem" -out "$1/cert.pem" \
    -subj /CN=example.com -days 2 2>/dev/null
  cat > "$1/shoal.toml" <<TOML
workers = 1
[udp]
listen = []
[http]
listen = ["127.0.0.1:0"]
tls_listen = ["127.0.0.1:$2"]
tls_cert = "$1/cert.pem"
tls_key = "$1/key.pem"
[webtorrent]
max_torrents_per_connection = 100000
TOML
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

# round_order ROUND NAME...: the names in the order round ROUND (from 1) runs them,
# reversed every other round (A B, B A, A B …), so that no one always runs first or
# always right after the same other server (its load's sockets still closing).
round_order() {
  local r=$1; shift
  if [ $((r % 2)) = 1 ]; then echo "$@"; else printf '%s\n' "$@" | tac | xargs; fi
}

# alternate ROUNDS RESULTS NAME...: runs `run_one NAME` for each name in turn, ROUNDS
# times (in round_order), appending every line to RESULTS and echoing it.
alternate() {
  local rounds=$1 results=$2 r name; shift 2
  for r in $(seq "$rounds"); do
    for name in $(round_order "$r" "$@"); do
      run_one "$name" | tee -a "$results"
    done
  done
}

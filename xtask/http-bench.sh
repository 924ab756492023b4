#!/usr/bin/env bash
# The HTTP measurement of docs/benchmarks.md (the verified-token cache on and off):
#   cargo build --release -p example-axum && bash xtask/http-bench.sh [binary]
# One app process per setting (embedded issuer, AUTH_DEV_MINT=1 to mint one RS256 token); wrk
# (Debian package) against /api/optional (no credential) and /api/me (Bearer), interleaved,
# 3 rounds of 8 s each. Prints requests/s, p50 and p99 per route.
set -u
BIN=${1:-"$(dirname "${BASH_SOURCE[0]}")/../target/release/example-axum"}
run_app() {
  PORT=3917 BIND=127.0.0.1 AUTH_DEV_MINT=1 RUST_LOG=warn AUTH_TOKEN_CACHE_BYTES=$1 $BIN > /tmp/app.out 2>&1 &
  APP=$!
  for i in $(seq 1 100); do grep -q "Development issuer" /tmp/app.out && break; sleep 0.1; done
  ISSUER=$(grep "Development issuer" /tmp/app.out | awk '{print $3}')
  TOKEN=$(curl -s -X POST "$ISSUER/dev/mint" -H 'content-type: application/json' -d '{"sub":"alice","roles":["admin"],"expires_in":3600}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
  curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3917/api/me
}
rate() { wrk -t1 -c16 -d8s --latency "$@" 2>/dev/null | awk '/Requests\/sec/ {r=$2} /50%/ {p50=$2} /99%/ {p99=$2} END {print r, p50, p99}'; }
for cache in 33554432 0; do
  run_app $cache
  for round in 1 2 3; do
    o=$(rate http://127.0.0.1:3917/api/optional)
    m=$(rate -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3917/api/me)
    echo "cache=$cache round=$round optional: $o | me: $m"
  done
  kill $APP; wait $APP 2>/dev/null
done

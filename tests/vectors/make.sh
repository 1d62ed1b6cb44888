#!/usr/bin/env bash
# Makes tests/vectors/rsa3072/: 64 documents time-stamped in one tree by an
# OpenSSL TSA with an RSA-3072 key, one evidence record each. Run from the
# repository root:   bash tests/vectors/make.sh
set -euo pipefail
out=tests/vectors/rsa3072
rm -rf "$out"; mkdir -p "$out"
tsa=$(mktemp -d)
bash tests/fixtures/openssl-tsa.sh "$tsa" 3072
python3 tests/fixtures/openssl-tsa-http.py "$tsa" 18318 & pid=$!
trap 'kill $pid' EXIT
sleep 1
for i in $(seq 0 63); do printf 'Bescheid Nr. %d\n' "$i" > "$out/doc-$i.txt"; done
cargo run --quiet -- stamp --tsa http://127.0.0.1:18318/ --out "$out" "$out"/doc-*.txt >/dev/null
cp "$tsa/ca.crt" "$out/ca.pem"

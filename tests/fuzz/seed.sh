#!/usr/bin/env bash
# Seeds tests/fuzz/seeds/ (committed; `cargo test` replays every file, and
# truncations and bit flips of each, see
# tests/it/fuzzing.rs). Run from the repository root, with ../shared beside it:
#   bash tests/fuzz/seed.sh
# The C.2 files are copied byte for byte (BSI TR-ESOR C.2 test data, Apache
# License 2.0, ../shared/conformance/tr-esor-c2/LICENSE); the rest are the
# project's own vectors. What the fuzzers add goes to tests/fuzz/corpus/.
set -euo pipefail
c2=../shared/conformance/tr-esor-c2/TESTDATA
out=tests/fuzz/seeds
mkdir -p "$out"/{er_decode,tsp_decode,cms_decode,revocation,pdf,asic,xml,signature}
cp tests/vectors/field/*.ers tests/vectors/rsa3072/doc-0.txt.ers tests/vectors/fuzz/*.der "$out/er_decode/"
rm -f "$out/er_decode/certificate.der"
for f in ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers ER_SHA256-DGN_XAIP_OK_SC2.ers ER_OK_SHA3-256_OPENSSL_XAIP_OK_SIG_OK.ers; do
  cp "$c2/$f" "$out/er_decode/c2-$f"
done
# every time-stamp token of the field vectors, cut out of its record
python3 - "$out" <<'PY'
import os, sys
out = sys.argv[1]
def tlvs(b, p, end):
    while p < end:
        tag = b[p]; l0 = b[p + 1]; h = 2
        if l0 == 0x80:
            yield p, None; return
        if l0 >= 0x80:
            k = l0 & 0x7F; l0 = int.from_bytes(b[p + 2:p + 2 + k], "big"); h = 2 + k
        yield p, (tag, h, l0)
        p += h + l0
def kids(b, p):
    tag, h, l = next(tlvs(b, p, len(b)))[1]
    return [x for x in tlvs(b, p + h, p + h + l)]
src = "tests/vectors/field"
for name in sorted(os.listdir(src)):
    if not name.endswith(".ers") or "ber" in name:
        continue
    b = open(os.path.join(src, name), "rb").read()
    seq = kids(b, 0)[-1][0]
    for ci, (chain, _) in enumerate(kids(b, seq)):
        for ai, (ats, _) in enumerate(kids(b, chain)):
            p, (tag, h, l) = kids(b, ats)[-1]
            tok = b[p:p + h + l]
            for d in ("tsp_decode", "cms_decode"):
                open(os.path.join(out, d, name[:-4] + f"-{ci}-{ai}.tst"), "wb").write(tok)
PY
cp "$c2/TXT_DATA.txt.p7s" "$c2/TXT_DATA.txt.p7m" "$out/cms_decode/"
cp tests/vectors/field/ocsp-good.der tests/vectors/field/crl.der tests/vectors/fuzz/certificate.der "$out/revocation/"
cp "$c2/PADES_VISIBLE.pdf" "$out/pdf/"
cp "$c2/ASIC_S_CADES_OK.asics" "$c2/ASIC_E_XADES_OK.asice" "$c2/ASIC_S_TST_OK.asics" "$c2/ASIC_E_ER_OK.asice" "$out/asic/"
cp "$c2/XML_DATA.xml" "$c2/SHA512-enveloped-test-01.xml-signed-xades-baseline-b.xml" "$c2/002-test-document.xml" "$out/xml/"
# XAdES through the engine (enveloping, detached) and an RFC 6283 record (EU DSS's)
cp "$c2/document-XADES-enveloping.xml" "$c2/002-test-document-XADES-detached.xml" tests/vectors/rfc6283/er-chain-renewal-tst-renewal.xml "$out/xml/"
cp "$c2/TXT_DATA.txt.p7s" "$c2/ASIC_S_CADES_OK.asics" "$c2/XML_DATA.xml" "$out/signature/"
printf '%%PDF-1.7\n1 0 obj <</Type/Sig/ByteRange[0 10 20 5]/Contents<3080>>> endobj\n%%%%EOF\n' > "$out/pdf/tiny-sig.pdf"
echo "seeded $(find "$out" -type f | wc -l) files"

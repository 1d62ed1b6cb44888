#!/usr/bin/env python3
"""Makes tests/vectors/field/: evidence records whose time-stamp tokens are
shaped as the qualified TSAs of the field write them, one per defect of
issue 16 (and the counter-cases), with their own small PKI.

    python3 tests/vectors/field/make.py          # from the repository root

Needs Python's `cryptography` (keys, signatures, certificates); the
time-stamps, OCSP responses, CRLs and records are encoded by hand below, so
that each can be made exactly as wrong, or as odd, as a real one. Keys are
made anew on every run; the vectors (and README.md's table) are committed.

Times: the PKI is valid 2021..2035 (the "expired anchor" root only until
2024-12-31), every genTime is 2025-06-01T12:00:00Z, tests verify as of
2026-01-01T00:00:00Z.
"""

import datetime as dt
import hashlib
import os
import shutil

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)))
UTC = dt.timezone.utc
GEN_TIME = "20250601120000Z"


# ---------------------------------------------------------------- DER by hand
def length(n, indefinite=False):
    if indefinite:
        return b"\x80"
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + length(len(content)) + content


def ber_indef(tag, content):
    """A constructed TLV with indefinite length (BER)."""
    return bytes([tag]) + b"\x80" + content + b"\x00\x00"


def seq(*items):
    return tlv(0x30, b"".join(items))


def set_of(items, sort=True):
    items = sorted(items) if sort else list(items)
    return tlv(0x31, b"".join(items))


def integer(n):
    b = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True)
    return tlv(0x02, b)


def oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    subs = [arcs[0] * 40 + arcs[1]] + arcs[2:]
    out = b""
    for s in subs:
        chunk = [s & 0x7F]
        s >>= 7
        while s:
            chunk.append(0x80 | (s & 0x7F))
            s >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def octets(b):
    return tlv(0x04, b)


def null():
    return b"\x05\x00"


def gentime(s):
    return tlv(0x18, s.encode())


def ctx(n, content, constructed=True):
    return tlv((0xA0 if constructed else 0x80) | n, content)


def children(der):
    """The TLVs inside one constructed DER TLV."""
    def hdr(b, p):
        l0 = b[p + 1]
        if l0 < 0x80:
            return p + 2, l0
        k = l0 & 0x7F
        return p + 2 + k, int.from_bytes(b[p + 2 : p + 2 + k], "big")
    start, n = hdr(der, 0)
    out, p = [], start
    while p < start + n:
        s, l = hdr(der, p)
        out.append(der[p : s + l])
        p = s + l
    return out


SHA256 = "2.16.840.1.101.3.4.2.1"
SHA1 = "1.3.14.3.2.26"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
SHA1_WITH_RSA = "1.2.840.113549.1.1.5"
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"
ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ID_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
ID_RI_OCSP_RESPONSE = "1.3.6.1.5.5.7.16.2"
ID_PKIX_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"
ID_AA_ETS_REVOCATION_VALUES = "1.2.840.113549.1.9.16.2.24"
POLICY = "1.3.6.1.4.1.32473.1"


def alg(o, params="absent"):
    return seq(oid(o)) if params == "absent" else seq(oid(o), null())


def sha256(b):
    return hashlib.sha256(b).digest()


# ----------------------------------------------------------------------- PKI
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def name(cn):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bewahr field vectors"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def t(y, m=1, d=1):
    return dt.datetime(y, m, d, tzinfo=UTC)


def ca_cert(k, cn, nb, na, serial):
    return (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(name(cn))
        .public_key(k.public_key())
        .serial_number(serial)
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(k, hashes.SHA256())
    )


def tsa_cert(k, cn, issuer_cert, issuer_key, serial, sig_hash=None):
    return (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer_cert.subject)
        .public_key(k.public_key())
        .serial_number(serial)
        .not_valid_before(t(2021))
        .not_valid_after(t(2035))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
        .sign(issuer_key, sig_hash or hashes.SHA256())
    )


def resigned_sha1(cert_der, issuer_key):
    """The certificate with its signature remade as sha1WithRSAEncryption
    (cryptography's builder refuses SHA-1; its raw RSA signing does not)."""
    tbs = children(cert_der)[0]
    f = children(tbs)
    i = 1 if f[0][0] == 0xA0 else 0
    f[i + 1] = alg(SHA1_WITH_RSA, "null")
    tbs = seq(*f)
    sig = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    return seq(tbs, alg(SHA1_WITH_RSA, "null"), tlv(0x03, b"\x00" + sig))


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def tbs_parts(cert_der):
    """(issuer Name DER, serialNumber DER, subject Name DER, SPKI bits) of a certificate."""
    tbs = children(cert_der)[0]
    f = children(tbs)
    i = 1 if f[0][0] == 0xA0 else 0
    serial, issuer, subject, spki = f[i], f[i + 2], f[i + 4], f[i + 5]
    bits = children(spki)[1]
    return issuer, serial, subject, bits[3:] if bits[1] < 0x80 else bits[2 + (bits[1] & 0x7F) + 1 :]


def sign_rsa(k, data, h=hashes.SHA256()):
    return k.sign(data, padding.PKCS1v15(), h)


# ---------------------------------------------------------- OCSP and CRLs
def ocsp_response(cert_der, issuer_der, issuer_key, status, produced, basic_only=False):
    """A BasicOCSPResponse signed by the issuer itself (responderID byName)."""
    c_issuer, c_serial, _, _ = tbs_parts(cert_der)
    _, _, i_subject, i_bits = tbs_parts(issuer_der)
    cert_id = seq(
        alg(SHA1, "null"),
        octets(hashlib.sha1(c_issuer).digest()),
        octets(hashlib.sha1(i_bits).digest()),
        c_serial,
    )
    if status == "good":
        st = tlv(0x80, b"")
    else:
        st = ctx(1, gentime(status))  # revoked [1] IMPLICIT RevokedInfo { revocationTime }
    single = seq(cert_id, st, gentime(produced), ctx(0, gentime("20251231000000Z")))
    tbs = seq(ctx(1, i_subject), gentime(produced), seq(single))
    basic = seq(tbs, alg(SHA256_WITH_RSA, "null"), tlv(0x03, b"\x00" + sign_rsa(issuer_key, tbs)))
    if basic_only:
        return basic
    return seq(
        tlv(0x0A, b"\x00"),
        ctx(0, seq(oid(ID_PKIX_OCSP_BASIC), octets(basic))),
    )


def crl(issuer_der, issuer_key, revoked=(), ber=False):
    _, _, i_subject, _ = tbs_parts(issuer_der)
    entries = b"".join(seq(serial, tlv(0x17, when.encode())) for serial, when in revoked)
    tbs = seq(
        integer(1),
        alg(SHA256_WITH_RSA, "null"),
        i_subject,
        tlv(0x17, b"250601000000Z"),
        tlv(0x17, b"251231000000Z"),
        *( [seq(entries)] if revoked else [] ),
    )
    body = tbs + alg(SHA256_WITH_RSA, "null") + tlv(0x03, b"\x00" + sign_rsa(issuer_key, tbs))
    return ber_indef(0x30, body) if ber else tlv(0x30, body)


# ------------------------------------------------------------ time-stamps
def token(
    imprint,
    tsa_key,
    tsa_der,
    chain=(),
    policy=POLICY,
    sd_version=3,
    params="absent",
    crls=(),
    sig_hash="sha256",
    ber=False,
):
    """An RFC 3161 TimeStampToken over `imprint` (SHA-256)."""
    h = hashlib.sha1 if sig_hash == "sha1" else hashlib.sha256
    digest_oid = SHA1 if sig_hash == "sha1" else SHA256
    tst = seq(
        integer(1),
        oid(policy),
        seq(alg(SHA256, params), octets(imprint)),
        integer(0x2A17),
        gentime(GEN_TIME),
    )
    ess = seq(seq(seq(alg(SHA256, params), octets(sha256(tsa_der))) if params == "null" else seq(octets(sha256(tsa_der)))))
    attrs = [
        seq(oid(ID_CONTENT_TYPE), set_of([oid(ID_CT_TST_INFO)])),
        seq(oid(ID_MESSAGE_DIGEST), set_of([octets(h(tst).digest())])),
        seq(oid(ID_SIGNING_CERT_V2), set_of([ess])),
    ]
    signed_attrs = set_of(attrs)
    signature = sign_rsa(tsa_key, signed_attrs, hashes.SHA1() if sig_hash == "sha1" else hashes.SHA256())
    issuer, serial, _, _ = tbs_parts(tsa_der)
    sig_alg = alg(RSA_ENCRYPTION, "null") if params == "null" else alg(RSA_ENCRYPTION)
    si = seq(
        integer(1),
        seq(issuer, serial),
        alg(digest_oid, params),
        b"\xa0" + signed_attrs[1:],
        sig_alg,
        octets(signature),
    )
    certs = set_of([tsa_der] + [der(c) for c in chain])
    fields = [
        integer(sd_version),
        set_of([alg(digest_oid, params)]),
        None,  # encapContentInfo below
        b"\xa0" + certs[1:],
    ]
    if crls:
        c = set_of(list(crls))
        fields.append(b"\xa1" + c[1:])
    fields.append(set_of([si]))
    if ber:
        # streaming encoder: indefinite lengths, eContent in a constructed OCTET STRING
        eci = ber_indef(0x30, oid(ID_CT_TST_INFO) + ber_indef(0xA0, ber_indef(0x24, octets(tst[:20]) + octets(tst[20:]))))
        fields[2] = eci
        sd = ber_indef(0x30, b"".join(fields))
        return ber_indef(0x30, oid(ID_SIGNED_DATA) + ber_indef(0xA0, sd))
    fields[2] = seq(oid(ID_CT_TST_INFO), ctx(0, octets(tst)))
    return seq(oid(ID_SIGNED_DATA), ctx(0, seq(*fields)))


def other_ocsp(resp):
    return ctx(1, oid(ID_RI_OCSP_RESPONSE) + resp)


def other_basic(basic):
    return ctx(1, oid(ID_PKIX_OCSP_BASIC) + basic)


# ---------------------------------------------------------------- records
def hs(a, b):
    return sha256(b"".join(sorted([a, b])))


def ats(tok, tree=None, params="absent"):
    parts = []
    if tree is not None:
        parts.append(ctx(2, b"".join(seq(*[octets(v) for v in lst]) for lst in tree)))
    parts.append(tok)
    return seq(*parts)


def record(chains, crypto_infos=None, params="absent"):
    body = integer(1) + seq(alg(SHA256, params))
    if crypto_infos is not None:
        body += ctx(0, crypto_infos)
    body += seq(*[seq(*c) for c in chains])
    return tlv(0x30, body)


def main():
    docs = [f"Bescheid Nr. {i}: Baugenehmigung\n".encode() for i in range(3)]
    leaves = [sha256(d) for d in docs]
    n01 = hs(leaves[0], leaves[1])
    root = hs(n01, leaves[2])
    tree0 = [[leaves[0], leaves[1]], [leaves[2]]]  # bewahr's shape for doc 0

    print("keys (RSA-3072) ...")
    ca_key, tsa_key, old_key = key(), key(), key()
    ca = ca_cert(ca_key, "bewahr field vectors root", t(2021), t(2040), 1)
    old_root = ca_cert(old_key, "bewahr field vectors root (expired 2024)", t(2015), t(2024, 12, 31), 2)
    tsa = tsa_cert(tsa_key, "bewahr field vectors TSA", ca, ca_key, 0x1001)
    tsa_old = tsa_cert(tsa_key, "bewahr field vectors TSA under the expired root", old_root, old_key, 0x2001)
    tsa_sha1 = resigned_sha1(der(tsa_cert(tsa_key, "bewahr field vectors TSA (SHA-1 certificate)", ca, ca_key, 0x1002)), ca_key)
    tsa_der, ca_der = der(tsa), der(ca)

    produced = "20250601120500Z"  # five minutes after genTime
    good = ocsp_response(tsa_der, ca_der, ca_key, "good", produced)
    good_basic = ocsp_response(tsa_der, ca_der, ca_key, "good", produced, basic_only=True)
    revoked_before = ocsp_response(tsa_der, ca_der, ca_key, "20250101000000Z", produced)
    revoked_after = ocsp_response(tsa_der, ca_der, ca_key, "20250901000000Z", "20250901000500Z")
    _, tsa_serial, _, _ = tbs_parts(tsa_der)
    crl_good = crl(ca_der, ca_key)
    crl_ber = crl(ca_der, ca_key, ber=True)

    for name_ in os.listdir(OUT):
        if name_.endswith((".ers", ".der", ".pem", ".txt")):
            os.remove(os.path.join(OUT, name_))
    for i, d in enumerate(docs):
        open(os.path.join(OUT, f"doc-{i}.txt"), "wb").write(d)
    open(os.path.join(OUT, "root.pem"), "wb").write(pem(ca))
    open(os.path.join(OUT, "root-expired-2024.pem"), "wb").write(pem(old_root))
    open(os.path.join(OUT, "ocsp-good.der"), "wb").write(good)
    open(os.path.join(OUT, "crl.der"), "wb").write(crl_good)

    def write(fname, data):
        open(os.path.join(OUT, fname), "wb").write(data)

    def simple(fname, **kw):
        tree = kw.pop("tree", tree0)
        cert = kw.pop("tsa_der", tsa_der)
        write(fname, record([[ats(token(root, tsa_key, cert, **kw), tree)]]))

    # 1. revocation data in the token
    simple("ocsp-in-token.ers", sd_version=5, crls=[other_ocsp(good)])
    simple("ocsp-in-token-version3.ers", sd_version=3, crls=[other_ocsp(good)])
    simple("ocsp-basic-in-token.ers", sd_version=5, crls=[other_basic(good_basic)])
    simple("crl-in-token.ers", crls=[crl_good])
    simple("crl-ber-in-token.ers", crls=[crl_ber])
    simple("unknown-other-revocation.ers", sd_version=5, crls=[ctx(1, oid("1.3.6.1.4.1.32473.7") + octets(b"x")), crl_good])
    # 2. short policy OIDs
    simple("policy-1.2.ers", policy="1.2", crls=[crl_good])
    simple("policy-1.1.1.ers", policy="1.1.1", crls=[crl_good])
    # 3. SignedData version
    simple("signeddata-version1.ers", sd_version=1)
    # 4. reduced trees
    simple("tree-value-listed.ers", tree=[[leaves[0], leaves[1]], [n01, leaves[2]]], crls=[crl_good])
    same = sha256(docs[0])
    dup_root = hs(hs(same, same), hs(same, same))
    write("tree-duplicate-leaves.ers", record([[ats(token(dup_root, tsa_key, tsa_der, crls=[crl_good]), [[same, same], [hs(same, same)]])]]))
    # 5. trust anchor expired before genTime
    write("anchor-expired.ers", record([[ats(token(root, tsa_key, der(tsa_old)), tree0)]]))
    # 6. the TSA certificate's status
    simple("tsa-revoked-before-gentime.ers", sd_version=5, crls=[other_ocsp(revoked_before)])
    simple("tsa-revoked-after-gentime.ers", sd_version=5, crls=[other_ocsp(revoked_after)])
    simple("no-revocation-data.ers")
    rev_values = seq(oid(ID_AA_ETS_REVOCATION_VALUES), set_of([seq(ctx(1, seq(good_basic)))]))
    write("ocsp-in-cryptoinfos.ers", record([[ats(token(root, tsa_key, tsa_der), tree0)]], crypto_infos=rev_values))
    # 7. SHA-1 inside the signatures
    simple("sha1-token-signature.ers", sig_hash="sha1", crls=[crl_good])
    simple("sha1-tsa-certificate.ers", tsa_der=tsa_sha1, crls=[crl_good])
    # 8. algorithm identifiers with NULL or absent parameters; BER tokens
    write("null-parameters.ers", record([[ats(token(root, tsa_key, tsa_der, params="null", crls=[crl_good]), tree0)]], params="null"))
    simple("absent-parameters.ers", crls=[crl_good])
    first = token(root, tsa_key, tsa_der, ber=True, crls=[crl_good])
    renewal = token(sha256(first), tsa_key, tsa_der, crls=[crl_good])
    write("ber-token-renewed.ers", record([[ats(first, tree0), ats(renewal)]]))
    print("written to", OUT)


if __name__ == "__main__":
    main()

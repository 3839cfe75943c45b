#!/usr/bin/env python3
"""bench/mint.py - test credentials for bench/run.

    mint.py DIR N

Writes into DIR (all throwaway, made fresh on every bench run):
  rsa.pem, ec.pem        private signing keys (RSA-2048, P-256)
  platform.jwks.json     their public halves as a JWKS (kid rsa1, ec1)
  tenants.json           registry: plan gold, issuer https://auth.bench.test
                         (audience vip-api, tenant claim tid), tenant acme with
                         one API key (stored as its SHA-256 only)
  apikey.txt             that API key, "acme-k1.<43 base64url chars>" as
                         tools/vip-keygen makes it (32 random bytes)
  token-rs256.txt        one RS256 token, token-es256.txt one ES256 token
  tokens-rs256.txt       N distinct RS256 tokens, one a line
  tokens-es256.txt       N distinct ES256 tokens, one a line

Tokens: header {"alg":..,"kid":..,"typ":"JWT"}, claims iss, aud, sub, tid,
scope, exp (now + 3600), iat (now); the bulk tokens also differ in jti (and
sub), so every one has its own SHA-256 and its own signature.  ES256
signatures are raw r||s (64 bytes) as JWS wants, not DER.

Signing uses python3-cryptography (OpenSSL): about 0.25 ms per RS256
signature, spread over every CPU, so 200k tokens take ~30 s on 2 cores
(Perl CryptX would take ~6 minutes).
"""
import base64
import hashlib
import json
import multiprocessing
import os
import secrets
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature

ISSUER = "https://auth.bench.test"
AUDIENCE = "vip-api"
TENANT = "acme"
SCOPE = "orders:read"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def int_bytes(i, size=None):
    if size is None:
        size = (i.bit_length() + 7) // 8
    return i.to_bytes(size, "big")


def seg(obj):
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def sign(key, alg, data):
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    der = key.sign(data, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return int_bytes(r, 32) + int_bytes(s, 32)


def token(key, alg, kid, claims):
    si = seg({"alg": alg, "kid": kid, "typ": "JWT"}) + "." + seg(claims)
    return si + "." + b64u(sign(key, alg, si.encode("ascii")))


def claims(now, i=None):
    c = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "tid": TENANT,
         "scope": SCOPE, "exp": now + 3600, "iat": now}
    if i is not None:
        c["sub"] = "user-%d" % i
        c["jti"] = "bench-%d" % i
    return c


# ---- bulk minting in worker processes -------------------------------------
_W = {}


def _init(pem, alg, kid, now):
    _W["key"] = serialization.load_pem_private_key(pem, password=None)
    _W["alg"], _W["kid"], _W["now"] = alg, kid, now


def _chunk(rng):
    k, alg, kid, now = _W["key"], _W["alg"], _W["kid"], _W["now"]
    return "".join(token(k, alg, kid, claims(now, i)) + "\n"
                   for i in range(*rng))


def bulk(path, pem, alg, kid, now, n):
    step = 2000
    ranges = [(a, min(a + step, n)) for a in range(0, n, step)]
    with multiprocessing.Pool(os.cpu_count() or 1, _init,
                              (pem, alg, kid, now)) as pool, \
            open(path, "w") as out:
        for text in pool.imap(_chunk, ranges):
            out.write(text)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mint.py DIR N")
    d, n = sys.argv[1], int(sys.argv[2])
    now = int(time.time())

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pems = {}
    for name, k in (("rsa", rsa_key), ("ec", ec_key)):
        pems[name] = k.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        with open(os.path.join(d, name + ".pem"), "wb") as f:
            f.write(pems[name])

    rn = rsa_key.public_key().public_numbers()
    en = ec_key.public_key().public_numbers()
    jwks = {"keys": [
        {"kty": "RSA", "kid": "rsa1", "n": b64u(int_bytes(rn.n)),
         "e": b64u(int_bytes(rn.e))},
        {"kty": "EC", "crv": "P-256", "kid": "ec1",
         "x": b64u(int_bytes(en.x, 32)), "y": b64u(int_bytes(en.y, 32))},
    ]}
    with open(os.path.join(d, "platform.jwks.json"), "w") as f:
        json.dump(jwks, f, indent=1)

    key = "acme-k1." + b64u(secrets.token_bytes(32))
    registry = {
        "plans": ["gold"],
        "issuers": [{"issuer": ISSUER, "audience": AUDIENCE,
                     "jwks_file": "platform.jwks.json",
                     "tenant_claim": "tid"}],
        "tenants": [{"id": TENANT, "plan": "gold", "scopes": [SCOPE],
                     "api_keys": [{"id": "acme-k1",
                                   "sha256": hashlib.sha256(
                                       key.encode()).hexdigest()}]}],
    }
    with open(os.path.join(d, "tenants.json"), "w") as f:
        json.dump(registry, f, indent=1)
    with open(os.path.join(d, "apikey.txt"), "w") as f:
        f.write(key + "\n")

    with open(os.path.join(d, "token-rs256.txt"), "w") as f:
        f.write(token(rsa_key, "RS256", "rsa1", claims(now)) + "\n")
    with open(os.path.join(d, "token-es256.txt"), "w") as f:
        f.write(token(ec_key, "ES256", "ec1", claims(now)) + "\n")

    for alg, kid, name in (("RS256", "rsa1", "rsa"), ("ES256", "ec1", "ec")):
        t0 = time.time()
        bulk(os.path.join(d, "tokens-%s.txt" % alg.lower()), pems[name],
             alg, kid, now, n)
        print("minted %d %s tokens in %.1f s" % (n, alg, time.time() - t0))


if __name__ == "__main__":
    main()

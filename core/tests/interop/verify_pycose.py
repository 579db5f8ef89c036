#!/usr/bin/env python3
"""Verify a Pramaan COSE_Sign1 (ES256) with an independent implementation: pycose.

Usage: verify_pycose.py TOKEN.cbor KEY.cose_key [EXPECTED_KID_HEX]

TOKEN is the COSE_Sign1 exactly as the Rust core produced it; KEY is the device public
key as the core encodes it in enrollment (a COSE_Key). Exit 0 when pycose verifies the
signature and the message has the shape Pramaan promises (alg ES256 in the protected
header, kid in the protected header, an EAT claims set with Pramaan's profile); exit 1
otherwise, with the reason on stderr; exit 3 if pycose is not installed.

Driven by core/tests/cose_interop.rs (`pip install pycose` first).
"""
import sys

try:
    import cbor2
    from pycose.algorithms import Es256
    from pycose.headers import KID, Algorithm
    from pycose.keys import CoseKey
    from pycose.messages import CoseMessage, Sign1Message
except ImportError as e:  # pragma: no cover - reported to the Rust driver
    print(f"pycose not available: {e}", file=sys.stderr)
    sys.exit(3)

EAT_PROFILE = 265
UEID = 256
IAT = 6
# The profile this release's agents sign (v1 was the previous agents'; design section 5 item 8).
PROFILE = "urn:pramaan:eat:v2"


def fail(msg: str) -> None:
    print(f"verify_pycose: {msg}", file=sys.stderr)
    sys.exit(1)


def decode_sign1(token: bytes):
    """CoseMessage.decode, tolerant of cbor2 >= 6. cbor2 6 decodes the content of a tag
    immutably (tuple, frozendict) where pycose 1.x checks for list and dict and then
    refuses every tagged message; the caller has checked the one-byte tag 18 (0xd2), so
    the untagged array that follows is handed to pycose's Sign1 decoder directly."""
    try:
        return CoseMessage.decode(token)
    except TypeError:
        if token[:1] != b"\xd2":
            raise
        return Sign1Message.from_cose_obj(cbor2.loads(token[1:]), True)


def main() -> None:
    if len(sys.argv) not in (3, 4):
        fail(__doc__.strip().splitlines()[2])
    token = open(sys.argv[1], "rb").read()
    key_bytes = open(sys.argv[2], "rb").read()
    expected_kid = bytes.fromhex(sys.argv[3]) if len(sys.argv) == 4 else None

    if token[:1] != b"\xd2":
        fail("token is not tagged COSE_Sign1 (tag 18)")
    try:
        msg = decode_sign1(token)
    except Exception as e:  # pycose raises several types on malformed input
        fail(f"pycose cannot decode the token: {e!r}")
    if not isinstance(msg, Sign1Message):
        fail(f"decoded as {type(msg).__name__}, not Sign1Message")
    if msg.phdr.get(Algorithm) is not Es256:
        fail(f"protected alg is {msg.phdr.get(Algorithm)!r}, not ES256")
    if Algorithm in msg.uhdr:
        fail("alg appears in the unprotected header")
    if expected_kid is not None and msg.phdr.get(KID) != expected_kid:
        fail(f"protected kid {msg.phdr.get(KID)!r} != {expected_kid.hex()}")

    try:
        msg.key = CoseKey.decode(key_bytes)
    except Exception as e:
        fail(f"pycose cannot decode the COSE_Key: {e!r}")
    try:
        ok = msg.verify_signature()
    except Exception as e:
        fail(f"verification raised {e!r}")
    if not ok:
        fail("signature does not verify")

    claims = cbor2.loads(msg.payload)
    if claims.get(EAT_PROFILE) != PROFILE:
        fail(f"eat_profile is {claims.get(EAT_PROFILE)!r}")
    ueid = claims.get(UEID)
    if not isinstance(ueid, bytes) or len(ueid) != 17 or ueid[0] != 1:
        fail(f"ueid {ueid!r} is not 0x01 || UUID")
    if expected_kid is not None and ueid[1:] != expected_kid:
        fail("ueid does not name the kid's device")
    if not isinstance(claims.get(IAT), int):
        fail("iat missing")
    print(f"verify_pycose: OK ({len(token)} bytes, officer {claims.get('officer')!r})")


if __name__ == "__main__":
    main()

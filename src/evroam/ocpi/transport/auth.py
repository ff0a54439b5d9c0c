"""The `Authorization: Token ...` header. OCPI 2.2+ sends the token Base64-encoded; many peers
(and every 2.1.1 peer) send it as it is. We accept both and remember which one a partner uses."""

from __future__ import annotations

import base64
import binascii

BASE64, PLAIN = "base64", "plain"


def encode_token(token: str, encoding: str | None) -> str:
    if encoding == PLAIN:
        return token
    return base64.b64encode(token.encode()).decode()


def authorization_header(token: str, encoding: str | None) -> str:
    return f"Token {encode_token(token, encoding)}"


def token_candidates(header: str | None) -> list[tuple[str, str]]:
    """The tokens a header may carry, most likely first: [(token, encoding)]. A value that is
    valid Base64 of printable ASCII is tried decoded first, then as it is."""
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "token" or not value.strip():
        return []
    value = value.strip()
    candidates: list[tuple[str, str]] = []
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = None
    if decoded and decoded.isprintable() and all(0x21 <= ord(ch) <= 0x7E for ch in decoded):
        candidates.append((decoded, BASE64))
    candidates.append((value, PLAIN))
    return candidates

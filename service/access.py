"""Who may ask, and who a client is for rate limiting: optional API keys, keyless widget origins."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, request
from flask_limiter.util import get_remote_address


def presented_key() -> str:
    """The key a request offers, as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` ("" when none)."""
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return request.headers.get("X-API-Key", "").strip()


def valid_key(offered: str) -> bool:
    keys: list[str] = current_app.config["API_KEYS"]
    # compare with every key, in constant time, so timing tells nothing about how close a guess was
    matches = [hmac.compare_digest(offered.encode(), key.encode()) for key in keys]
    return bool(offered) and any(matches)


def may_ask() -> bool:
    """Without configured keys anyone may; with keys, a valid key or a page of a keyless origin (or our own)."""
    if not current_app.config["API_KEYS"]:
        return True
    origin = request.headers.get("Origin", "").rstrip("/")
    if origin and (origin in current_app.config["KEYLESS_ORIGINS"] or origin == request.host_url.rstrip("/")):
        return True
    return valid_key(presented_key())


def rate_limit_client() -> str:
    """A client is its API key when it shows a valid one, else its address (keys are never stored as such)."""
    offered = presented_key()
    if offered and current_app.config["API_KEYS"] and valid_key(offered):
        return "key:" + hashlib.sha256(offered.encode()).hexdigest()[:16]
    return "ip:" + get_remote_address()

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
    """Without configured keys anyone may; with keys, a valid key, or a request that names a keyless origin."""
    if not current_app.config["API_KEYS"]:
        return True
    return valid_key(presented_key()) or keyless()


def keyless() -> bool:
    """Whether the request names, in ``Origin``, a page allowed to ask without a key: a site of
    ``KEYLESS_ORIGINS`` or citewell's own pages (``PUBLIC_URL``, else the address the request was sent to).

    This is not authentication: any program can send any ``Origin``. It lets browsers on those sites ask without
    a key they could not keep secret anyway; such requests share the tighter ``KEYLESS_RATE_LIMIT``."""
    origin = request.headers.get("Origin", "").rstrip("/")
    return bool(origin) and (origin in current_app.config["KEYLESS_ORIGINS"] or origin == public_origin())


def public_origin() -> str:
    """citewell's own web address: ``PUBLIC_URL`` when configured, else the address this request was sent to."""
    return str(current_app.config["PUBLIC_URL"] or request.host_url).rstrip("/")


def charged_as_keyless() -> bool:
    """Whether a request counts against ``KEYLESS_RATE_LIMIT``: keys are configured and it shows no valid one."""
    return bool(current_app.config["API_KEYS"]) and not valid_key(presented_key())


def rate_limit_client() -> str:
    """A client is its API key when it shows a valid one, else its address (keys are never stored as such)."""
    offered = presented_key()
    if offered and current_app.config["API_KEYS"] and valid_key(offered):
        return "key:" + hashlib.sha256(offered.encode()).hexdigest()[:16]
    return "ip:" + get_remote_address()

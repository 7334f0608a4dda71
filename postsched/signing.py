"""The signature of postsched's outgoing HTTP calls (post webhooks and event callbacks).

`X-Postsched-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the shared
secret, as Stripe signs its webhooks: a receiver recomputes it and refuses old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Postsched-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"

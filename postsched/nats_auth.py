"""Who may do what on NATS: one user per service role and one per tenant that reads its events.

Least privilege, as nats-server enforces it (`authorization { users: [...] }`): every role may
subscribe only to its own reply inboxes (and the admin to heartbeats); what each may publish,
JetStream API calls included, is listed below. A publisher cannot publish hand-overs or delete a
stream; a dispatcher cannot delete or read through the publishers' consumer; the admin only reads.
A tenant's user may only subscribe to `postsched.events.<its token>.>` (live events; history
is WatchEvents'). `authorization_block` is the one place this is written: `postsched up` puts it in
its embedded server's configuration, and deploy/nats/*.conf and the Kubernetes ConfigMap hold its
output with passwords from the environment (a test checks they agree).
"""

from __future__ import annotations

import json
import secrets
from typing import Mapping

from postsched.broker import ALERT_SUBJECTS, CONSUMER, EVENT_SUBJECTS, PUBLISH_SUBJECTS, STREAM, tenant_token
from postsched.heartbeat import SUBJECT as STATUS_SUBJECT

ROLES = ("dispatcher", "publisher", "admin")
INBOX = "_INBOX.>"

# JetStream API calls to make the streams and the publishers' consumer if missing (every service
# that starts them: dispatcher and publisher), never to delete them.
_SET_UP = [
    "$JS.API.INFO", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.CREATE.*", "$JS.API.STREAM.UPDATE.*",
    f"$JS.API.CONSUMER.INFO.{STREAM}.{CONSUMER}",
    f"$JS.API.CONSUMER.CREATE.{STREAM}.{CONSUMER}", f"$JS.API.CONSUMER.CREATE.{STREAM}.{CONSUMER}.>",
    f"$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.{CONSUMER}",
]

PERMISSIONS: dict[str, dict[str, list[str]]] = {
    "dispatcher": {
        "publish": [PUBLISH_SUBJECTS, EVENT_SUBJECTS, f"{STATUS_SUBJECT}.dispatcher.>", *_SET_UP,
                    # The lost-message check reads a message by its sequence.
                    f"$JS.API.STREAM.MSG.GET.{STREAM}", f"$JS.API.DIRECT.GET.{STREAM}"],
        "subscribe": [INBOX],
    },
    "publisher": {
        "publish": [ALERT_SUBJECTS, f"{STATUS_SUBJECT}.publisher.>", *_SET_UP,
                    f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{CONSUMER}", f"$JS.ACK.{STREAM}.{CONSUMER}.>"],
        "subscribe": [INBOX],
    },
    "admin": {
        "publish": ["$JS.API.INFO", "$JS.API.STREAM.INFO.*", f"$JS.API.CONSUMER.INFO.{STREAM}.{CONSUMER}"],
        "subscribe": [INBOX, f"{STATUS_SUBJECT}.>"],
    },
}


def tenant_permissions(tenant_id: str) -> dict[str, dict[str, list[str]]]:
    return {"publish": {"deny": [">"]}, "subscribe": {"allow": [f"postsched.events.{tenant_token(tenant_id)}.>"]}}


def password_variable(role: str) -> str:
    """Where compose and Kubernetes keep a role's NATS password."""
    return f"POSTSCHED_NATS_{role.upper()}_PASSWORD"


def new_password() -> str:
    return secrets.token_urlsafe(24)


def _user(name: str, password: str, permissions: object) -> str:
    return f"    {{user: {json.dumps(name)}, password: {password}, permissions: {json.dumps(permissions)}}}"


def authorization_block(passwords: Mapping[str, str] | None = None, tenants: Mapping[str, str] | None = None) -> str:
    """The nats-server `authorization` block. With `passwords` (role -> password) they are written
    in; without, each is `$POSTSCHED_NATS_<ROLE>_PASSWORD`, which nats-server reads from its
    environment. `tenants` (tenant id -> password) adds a user per tenant, named `tenant-<id>`."""
    users = [
        _user(role, json.dumps(passwords[role]) if passwords else f"${password_variable(role)}",
              {"publish": {"allow": PERMISSIONS[role]["publish"]}, "subscribe": {"allow": PERMISSIONS[role]["subscribe"]}})
        for role in ROLES
    ]
    users += [_user(f"tenant-{tenant}", json.dumps(password), tenant_permissions(tenant))
              for tenant, password in sorted((tenants or {}).items())]
    return "authorization {\n  users: [\n" + "\n".join(users) + "\n  ]\n}\n"


def user_url(role: str, password: str, host: str, port: int) -> str:
    return f"nats://{role}:{password}@{host}:{port}"

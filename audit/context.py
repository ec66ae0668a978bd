"""Who is acting, for the audit trail: an admin user, an API key, a command or a task.

One context variable holds the current actor for the length of a request, a command's run or
a task (`audit_actor`). The audit entry written inside it takes its actor from there (see
receivers.py), so services never pass "who" around. Nested contexts restore the outer one on
exit, and a thread that served one request starts the next with nothing set.
"""

import contextlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

# Longest label kept on an entry (AuditEntry.actor_label).
LABEL_MAX = 255


@dataclass(frozen=True)
class AuditActor:
    """`user`: a Django user (admin); `request`: a request whose user is read only when an
    entry is written (so a request that writes nothing never loads its user); `label`: who,
    when it is not a user ("API key 'shop' (rpc_abc…)", "command: void_codes");
    `remote_addr`: the client's address; `cid`: one id shared by every entry of this run."""

    user: Any = None
    request: Any = None
    label: str = ""
    remote_addr: str | None = None
    cid: str = field(default_factory=lambda: uuid.uuid4().hex)

    def resolved_user(self):
        if self.user is not None:
            return self.user
        user = getattr(self.request, "user", None)
        # Only a signed-in Django user (an API may set request.user to something else, e.g.
        # the widget's participant identity).
        if isinstance(user, get_user_model()) and user.is_authenticated:
            return user
        return None


_actor: ContextVar[AuditActor | None] = ContextVar("audit_actor", default=None)
_event: ContextVar[str] = ContextVar("audit_event", default="")


def current_actor() -> AuditActor | None:
    return _actor.get()


def correlation_id() -> str | None:
    """AUDITLOG_CID_GETTER: the id shared by every entry of the current run."""
    actor = _actor.get()
    return actor.cid if actor else None


def _actor_of(*, user=None, request=None, label="", remote_addr=None, cid=None):
    fields = {"user": user, "request": request, "label": label[:LABEL_MAX]}
    fields["remote_addr"] = remote_addr
    if cid:
        fields["cid"] = cid[:255]
    return AuditActor(**fields)


@contextlib.contextmanager
def audit_actor(**kwargs):
    """Every audit entry written inside is attributed to this actor (keywords of AuditActor)."""
    token = _actor.set(_actor_of(**kwargs))
    try:
        yield
    finally:
        _actor.reset(token)


def audit_actor_enter(**kwargs):
    """Set the actor without a with-block (the API sets it once the key is authenticated and
    resets it when the response is finalised); returns the token for `audit_actor_exit`."""
    return _actor.set(_actor_of(**kwargs))


def audit_actor_exit(token) -> None:
    _actor.reset(token)


@contextlib.contextmanager
def audit_event(event: str):
    """Entries written automatically inside are labelled with this event (e.g. a one-way
    switch), so the audit list can be filtered by it."""
    token = _event.set(event)
    try:
        yield
    finally:
        _event.reset(token)


def current_event() -> str:
    return _event.get()


def api_key_label(api_key) -> str:
    """How an API key is named as an actor: "API key 'shop-backend' (rpc_abc12345…)"."""
    return f"API key {api_key.name!r} ({api_key.prefix}…)"


def command_label(name: str) -> str:
    return f"command: {name}"


def task_label(name: str) -> str:
    return f"task: {name}"

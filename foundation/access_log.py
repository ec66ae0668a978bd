"""Participant ids kept out of the logs: in an API path that names a participant
(`/api/v1/programs/<program>/participants/<id>`) the id is written as an opaque reference,
`~` and 16 hex digits of an HMAC-SHA256 of the id keyed with the SECRET_KEY, in gunicorn's
access log (`AccessLogger`, set in gunicorn.conf.py) and in Django's request log lines
(`OpaqueParticipantPaths`, a logging filter). A brand may use e-mail addresses as ids, and an
erased participant must not stay readable in the logs; `opaque_participant_id` gives the
reference of a known id, to find its requests.
"""

import hashlib
import hmac
import logging
import os
import re
from urllib.parse import unquote

from gunicorn.glogging import Logger

_PARTICIPANT_PATH = re.compile(r"(/api/v1/programs/[^/?#\s]+/participants/)([^/?#\s]+)")


def _key() -> bytes:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        secret = settings.SECRET_KEY
    except ImproperlyConfigured:  # no Django settings in this process (gunicorn's master)
        secret = os.environ.get("SECRET_KEY", "")
    return secret.encode()


def opaque_participant_id(participant_id: str) -> str:
    """The reference the logs write for `participant_id` (the id as sent, URL-decoded)."""
    digest = hmac.new(_key(), participant_id.encode(), hashlib.sha256).hexdigest()
    return f"~{digest[:16]}"


def opaque_paths(text):
    """`text` with the participant id of any API participant path in it made opaque."""
    if not isinstance(text, str) or "/participants/" not in text:
        return text
    return _PARTICIPANT_PATH.sub(
        lambda match: match.group(1) + opaque_participant_id(unquote(match.group(2))), text
    )


class AccessLogger(Logger):
    """gunicorn's logger, writing participant ids in paths as opaque references."""

    PATH_ATOMS = ("r", "U", "{path_info}e", "{raw_uri}e", "{request_uri}e", "{referer}i", "f")

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in self.PATH_ATOMS:
            if name in atoms:
                atoms[name] = opaque_paths(atoms[name])
        return atoms


class OpaqueParticipantPaths(logging.Filter):
    """Django's request log lines ("Not Found: /api/v1/…/participants/<id>") with the id made
    opaque in the message's arguments (the JSON format makes the path field opaque itself)."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(opaque_paths(arg) for arg in record.args)
        return True

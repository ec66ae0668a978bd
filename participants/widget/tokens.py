"""Participant tokens for the widget API: JWTs signed HS256 with the program's widget secret.

The brand's backend signs them; the widget sends them as `Authorization: Bearer <token>`.
Claims: `sub` (participant id), `program` (slug), `exp` (required), and optionally `email`,
`first_name`, `last_name`, `referred_by_code`, `locale` (the advocate's language, a BCP 47 tag).
"""

import re
from dataclasses import dataclass
from datetime import timedelta

import jwt
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from programs.models import Program
from programs.selectors import program_get_by_slug
from programs.validators import is_clean_text, shown

from ..models import (
    ERASED_ID_PREFIX,
    LOCALE_MAX_LENGTH,
    is_locale_tag,
    is_reserved_participant_id,
)

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "sub", "program")
# Optional profile claims and the longest value each may carry (the participant's columns).
OPTIONAL_CLAIMS = {
    "email": 254,
    "first_name": 150,
    "last_name": 150,
    "referred_by_code": 64,
    "locale": LOCALE_MAX_LENGTH,
}
PARTICIPANT_ID_MAX_LENGTH = 255
# A token is a few hundred characters; anything near this is not one.
TOKEN_MAX_LENGTH = 8192
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


class InvalidWidgetToken(Exception):
    """A token that cannot be trusted; `message` says why, for the widget to show."""

    def __init__(self, message, code="invalid_token"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class WidgetIdentity:
    """Who a verified token speaks for."""

    program: Program
    participant_id: str
    claims: dict

    # DRF asks these of request.user.
    is_authenticated = True

    @property
    def profile(self):
        return {
            name: self.claims[name]
            for name in ("email", "first_name", "last_name", "locale")
            if self.claims.get(name) is not None
        }

    @property
    def referred_by_code(self):
        return self.claims.get("referred_by_code") or None


def widget_token_encode(*, program, participant_id, ttl_seconds=3600, **claims):
    """A signed participant token, as the brand's backend would make one."""
    now = timezone.now()
    payload = {
        "sub": str(participant_id),
        "program": program.slug,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        **{name: value for name, value in claims.items() if value is not None},
    }
    return jwt.encode(payload, program.widget_secret, algorithm=ALGORITHM)


def widget_token_decode(token):
    """Verify a participant token; return a WidgetIdentity or raise InvalidWidgetToken.

    The unverified `program` claim only picks whose secret to check the signature with;
    nothing in the token is trusted before that check passes.
    """
    if len(token) > TOKEN_MAX_LENGTH:
        raise InvalidWidgetToken(
            _("The participant token is longer than %(max)s characters.")
            % {"max": TOKEN_MAX_LENGTH},
            "malformed_token",
        )
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as error:
        # Any header PyJWT refuses (malformed, or a `crit` extension it does not support).
        raise InvalidWidgetToken(
            _("The participant token's header is not acceptable: %(error)s.") % {"error": error},
            "malformed_token",
        ) from None
    if header.get("alg") != ALGORITHM:
        raise InvalidWidgetToken(
            _("The participant token must be signed with %(wanted)s, not %(alg)r.")
            % {"wanted": ALGORITHM, "alg": header.get("alg")},
            "bad_algorithm",
        )
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise InvalidWidgetToken(
            _("The participant token is malformed."), "malformed_token"
        ) from None
    slug = unverified.get("program")
    if not isinstance(slug, str) or not slug:
        raise InvalidWidgetToken(
            _("The participant token has no 'program' claim."), "missing_claim"
        )
    if not _SLUG.fullmatch(slug):
        raise InvalidWidgetToken(
            _("Unknown program %(slug)r in the token.") % {"slug": shown(slug[:50])},
            "unknown_program",
        )
    program = program_get_by_slug(slug)
    if program is None:
        raise InvalidWidgetToken(
            _("Unknown program %(slug)r in the token.") % {"slug": shown(slug[:50])},
            "unknown_program",
        )
    try:
        claims = jwt.decode(
            token,
            program.widget_secret,
            algorithms=[ALGORITHM],
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidWidgetToken(_("The participant token has expired."), "token_expired") from None
    except jwt.InvalidSignatureError:
        raise InvalidWidgetToken(
            _("The participant token's signature does not match the program's widget secret."),
            "bad_signature",
        ) from None
    except jwt.MissingRequiredClaimError as error:
        raise InvalidWidgetToken(
            _("The participant token has no %(claim)r claim.") % {"claim": error.claim},
            "missing_claim",
        ) from None
    except jwt.InvalidTokenError as error:
        raise InvalidWidgetToken(
            _("The participant token is invalid: %(error)s.") % {"error": shown(str(error))}
        ) from None
    _check_claims(claims)
    return WidgetIdentity(program=program, participant_id=claims["sub"], claims=claims)


def _check_claims(claims):
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.strip():
        raise InvalidWidgetToken(_("The token's 'sub' must be the participant id, a string."))
    if len(sub) > PARTICIPANT_ID_MAX_LENGTH:
        raise InvalidWidgetToken(
            _("The token's 'sub' is longer than %(max)s characters.")
            % {"max": PARTICIPANT_ID_MAX_LENGTH}
        )
    if not is_clean_text(sub):
        raise InvalidWidgetToken(
            _("The token's 'sub' holds a control character or an invalid one (a lone surrogate).")
        )
    if is_reserved_participant_id(sub):
        raise InvalidWidgetToken(
            _("The token's 'sub' starts with %(prefix)r, reserved for erased participants.")
            % {"prefix": ERASED_ID_PREFIX}
        )
    for name, max_length in OPTIONAL_CLAIMS.items():
        value = claims.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidWidgetToken(
                _("The token's %(name)r claim must be a string.") % {"name": name}
            )
        if len(value) > max_length:
            raise InvalidWidgetToken(
                _("The token's %(name)r claim is longer than %(max)s characters.")
                % {"name": name, "max": max_length}
            )
        if not is_clean_text(value):
            raise InvalidWidgetToken(
                _(
                    "The token's %(name)r claim holds a control character or an invalid one "
                    "(a lone surrogate)."
                )
                % {"name": name}
            )
    email = claims.get("email")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidWidgetToken(
                _("The token's 'email' claim is not an e-mail address.")
            ) from None
    locale = claims.get("locale")
    if locale and not is_locale_tag(locale):
        raise InvalidWidgetToken(
            _("The token's 'locale' claim %(locale)r is not a language tag (e.g. zh-Hans).")
            % {"locale": shown(locale)}
        )

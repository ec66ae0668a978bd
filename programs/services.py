"""Writes with business meaning for programs. Keyword-only arguments, one transaction each."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from audit.context import audit_event
from audit.services import audit_record

from .models import (
    MAX_CODES_PER_ADVOCATE,
    ApiKey,
    CodeUsage,
    ConsoleSettings,
    Program,
    ProgramManager,
    ReviewPolicy,
    Widget,
    WidgetComponent,
    WidgetComponentKind,
    split_addresses,
)
from .roles import PROGRAM_MANAGERS_GROUP, program_managers_group_sync
from .signals import promo_settings_changed


class IrreversibleChangeError(ValidationError):
    """Raised when a write would undo one of a program's one-way switches."""


@dataclass(frozen=True)
class PromoSettingsChange:
    """What saving promo-code settings would change, and which parts cannot be undone."""

    turns_on: bool
    switches_to_single_use: bool
    # Codes per advocate raised: every advocate is topped up to the new quota (not one-way).
    raises_quota: bool = False

    @property
    def irreversible(self):
        return self.turns_on or self.switches_to_single_use

    def audit_event(self) -> str:
        """The event an audit entry of this change is labelled with ("" for none)."""
        switches = []
        if self.turns_on:
            switches.append(gettext_noop("promo codes turned on"))
        if self.switches_to_single_use:
            switches.append(gettext_noop("switched to single-use"))
        return f"{gettext_noop('one-way switch')}: {', '.join(switches)}" if switches else ""

    def describe(self):
        parts = []
        if self.turns_on:
            parts.append(_("Turn on referral promo codes. They can never be turned off again."))
        if self.switches_to_single_use:
            parts.append(
                _("Switch to single-use codes. The program can never go back to multi-use codes.")
            )
        return parts


def promo_settings_change_preview(
    *, program: Program, promo_codes_enabled: bool, code_usage: str
) -> PromoSettingsChange:
    """The one-way changes that saving these values over `program`'s stored ones would make."""
    stored = Program.objects.filter(pk=program.pk).values(
        "promo_codes_enabled", "code_usage"
    ).first() or {"promo_codes_enabled": False, "code_usage": CodeUsage.MULTI}
    return PromoSettingsChange(
        turns_on=promo_codes_enabled and not stored["promo_codes_enabled"],
        switches_to_single_use=code_usage == CodeUsage.SINGLE
        and stored["code_usage"] != CodeUsage.SINGLE,
    )


def promo_settings_validate(*, code_usage, codes_per_advocate, low_stock_recipients) -> None:
    """Raise ValidationError naming each field at fault (the admin form shows each at its field)."""
    errors = {}
    if code_usage not in CodeUsage.values:
        errors["code_usage"] = f"Usage must be one of {', '.join(CodeUsage.values)}."
    if not 1 <= codes_per_advocate <= MAX_CODES_PER_ADVOCATE:
        errors["codes_per_advocate"] = (
            f"Codes per advocate must be between 1 and {MAX_CODES_PER_ADVOCATE}."
        )
    bad = []
    for address in split_addresses(low_stock_recipients):
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        errors["low_stock_recipients"] = f"Not an e-mail address: {', '.join(bad)}."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def program_create(
    *,
    slug: str,
    name: str,
    promo_codes_enabled: bool = False,
    code_usage: str = CodeUsage.MULTI,
    codes_per_advocate: int = 1,
    low_stock_threshold: int = 100,
    low_stock_recipients: str = "",
    **other_fields,
) -> Program:
    promo_settings_validate(
        code_usage=code_usage,
        codes_per_advocate=codes_per_advocate,
        low_stock_recipients=low_stock_recipients,
    )
    program = Program(
        slug=slug,
        name=name,
        promo_codes_enabled=promo_codes_enabled,
        code_usage=code_usage,
        codes_per_advocate=codes_per_advocate,
        low_stock_threshold=low_stock_threshold,
        low_stock_recipients=low_stock_recipients,
        **other_fields,
    )
    program.full_clean()
    change = PromoSettingsChange(
        turns_on=promo_codes_enabled, switches_to_single_use=code_usage == CodeUsage.SINGLE
    )
    with audit_event(change.audit_event()):
        program.save()
    Widget.objects.create(program=program, name="Default widget")
    promo_settings_changed.send(sender=Program, program=program, change=change)
    return program


PROMO_FIELDS = (
    "promo_codes_enabled",
    "code_usage",
    "codes_per_advocate",
    "low_stock_threshold",
    "low_stock_recipients",
)


@transaction.atomic
def program_update(
    *, program: Program, apply_template_to_widgets: bool = False, **fields
) -> Program:
    """Save changes to a program, refusing to undo either one-way switch.

    `fields` are model field names and their new values; the ones not given keep their stored
    value. The check runs against the row as stored, locked for this transaction, so neither a
    stale form nor two concurrent saves can slip an undo through.
    """
    unknown = set(fields) - {f.name for f in Program._meta.concrete_fields}
    if unknown:
        raise TypeError(f"Unknown program fields: {', '.join(sorted(unknown))}")
    stored = Program.objects.select_for_update().get(pk=program.pk)
    values = {name: fields.get(name, getattr(stored, name)) for name in PROMO_FIELDS}
    promo_settings_validate(
        code_usage=values["code_usage"],
        codes_per_advocate=values["codes_per_advocate"],
        low_stock_recipients=values["low_stock_recipients"],
    )
    if stored.promo_codes_enabled and not values["promo_codes_enabled"]:
        raise IrreversibleChangeError(
            {"promo_codes_enabled": _("Referral promo codes cannot be turned off once turned on.")}
        )
    if stored.code_usage == CodeUsage.SINGLE and values["code_usage"] != CodeUsage.SINGLE:
        raise IrreversibleChangeError(
            {"code_usage": _("A program with single-use codes can never go back to multi-use.")}
        )
    change = PromoSettingsChange(
        turns_on=values["promo_codes_enabled"] and not stored.promo_codes_enabled,
        switches_to_single_use=values["code_usage"] == CodeUsage.SINGLE
        and stored.code_usage != CodeUsage.SINGLE,
        raises_quota=(values["codes_per_advocate"] or 0) > (stored.codes_per_advocate or 0),
    )
    for name, value in fields.items():
        setattr(stored, name, value)
    stored.full_clean()
    # The audit trail records the change; a one-way switch is labelled as such.
    with audit_event(change.audit_event()):
        stored.save()
    if apply_template_to_widgets:
        widget_apply_promo_code_template(program=stored)
    # Receivers in higher apps (codes) react, e.g. top advocates up after the switch.
    promo_settings_changed.send(sender=Program, program=stored, change=change)
    return stored


@transaction.atomic
def widget_apply_promo_code_template(*, program: Program, widgets=None) -> list[Widget]:
    """Add the referral promo-code component to the program's widgets that lack it.

    Returns the widgets that got it, by name.
    """
    widgets = widgets if widgets is not None else Widget.objects.filter(program=program)
    lacking = widgets.exclude(components__kind=WidgetComponentKind.REFERRAL_PROMO_CODE)
    added = []
    for widget in lacking.order_by("name").select_for_update():
        _, created = WidgetComponent.objects.get_or_create(
            widget=widget, kind=WidgetComponentKind.REFERRAL_PROMO_CODE, defaults={"position": 0}
        )
        if created:
            added.append(widget)
    return added


@transaction.atomic
def program_rotate_widget_secret(*, program: Program) -> Program:
    program.widget_secret = secrets.token_urlsafe(48)
    program.save(update_fields=["widget_secret", "updated_at"])
    # Recorded without the secret, old or new.
    audit_record(
        obj=program,
        event=gettext_noop("widget secret rotated"),
        details={
            gettext_noop("effect"): gettext_noop(
                "participant tokens signed with the old secret are refused"
            )
        },
    )
    return program


API_KEY_PREFIX = "rpc_"
API_KEY_USE_RESOLUTION = timedelta(minutes=1)


def api_key_digest(raw_key: str) -> str:
    # A random 32-byte key needs no slow hash: SHA-256 cannot be brute-forced back to it.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, program: Program, name: str, requests_per_minute: int = 10_000
) -> tuple[ApiKey, str]:
    """Create a key; return (ApiKey, raw key). The raw key is not stored anywhere."""
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        program=program,
        name=name,
        prefix=raw_key[:12],
        digest=api_key_digest(raw_key),
        requests_per_minute=requests_per_minute,
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key (at once: its next request is refused, in every web process: saving it
    marks every process's key copies stale, programs.keycache). Revoking twice changes
    nothing."""
    stored = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if stored.revoked_at is None:
        stored.revoked_at = timezone.now()
        stored.save(update_fields=["revoked_at"])  # the audit trail records it
    api_key.revoked_at = stored.revoked_at
    return api_key


def api_key_mark_used(*, api_key: ApiKey, now=None) -> None:
    """Stamp last_used_at, at most once a minute per key.

    A conditional UPDATE: of many concurrent requests at most one writes in each minute.
    """
    now = now or timezone.now()
    last = api_key.last_used_at
    if last is not None and now - last < API_KEY_USE_RESOLUTION:
        return
    stale = now - API_KEY_USE_RESOLUTION
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=api_key.pk
    ).update(last_used_at=now)
    api_key.last_used_at = now


@dataclass(frozen=True)
class ManagerAdded:
    user: object
    user_created: bool
    program_added: bool


@transaction.atomic
def program_manager_add(
    *, program: Program, username: str, email: str = "", password: str | None = None
) -> ManagerAdded:
    """Make `username` a manager of `program`: a staff user (created when new) in the
    "Program managers" group. Run again with another program to add that one too.

    A new user without `password` gets none usable (set one with `changepassword`); an existing
    user keeps theirs unless one is given. Raises ValidationError naming the field.
    """
    user_model = get_user_model()
    username = username.strip()
    if not username:
        raise ValidationError({"username": _("A username is required.")})
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(
                {"email": _("Not an e-mail address: %(addresses)s.") % {"addresses": email}}
            ) from None
    user = user_model.objects.select_for_update().filter(username=username).first()
    created = user is None
    if created:
        user = user_model(username=username, email=email, is_staff=True)
        user.full_clean(exclude=["password"])
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as refused:
            raise ValidationError({"password": refused.messages}) from None
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.is_staff = True
    if email:
        user.email = email
    user.save()
    group = Group.objects.filter(name=PROGRAM_MANAGERS_GROUP).first()
    if group is None:  # deleted by hand since the last migrate
        program_managers_group_sync()
        group = Group.objects.get(name=PROGRAM_MANAGERS_GROUP)
    user.groups.add(group)
    _manager, program_added = ProgramManager.objects.get_or_create(program=program, user=user)
    return ManagerAdded(user=user, user_created=created, program_added=program_added)


@transaction.atomic
def console_settings_update(*, user, time_zone: str) -> ConsoleSettings:
    """Set a console user's own time zone (a zoneinfo name). Raises ValidationError naming
    the field when it is not one."""
    row = ConsoleSettings.objects.select_for_update().filter(user=user).first()
    row = row or ConsoleSettings(user=user)
    row.time_zone = time_zone
    row.full_clean(exclude=["user"])
    row.save()
    return row


def program_review_policy_set(
    *,
    program: Program,
    policy: str | None = None,
    hold_at: int | None = None,
    deny_at: int | None = None,
    velocity_per_hour: int | None = None,
    leak_customers_per_day: int | None = None,
) -> Program:
    """Choose how referrals are reviewed at attribution (README, "Reviewing referrals"): a
    named policy, or custom thresholds (None keeps the policy); and how many customers a day
    a multi-use code may have before it is flagged as leaked (0 turns that off, None keeps
    it). Raises ValidationError naming the field."""
    fields = {}
    if policy is not None:
        fields["review_policy"] = policy
    if policy == ReviewPolicy.CUSTOM:
        fields.update(review_hold_at=hold_at, review_deny_at=deny_at)
    elif hold_at is not None or deny_at is not None:
        raise ValidationError({"review_policy": _("Thresholds go with the custom policy only.")})
    if velocity_per_hour is not None:
        fields["review_velocity_per_hour"] = velocity_per_hour
    if leak_customers_per_day is not None:
        if leak_customers_per_day < 0:
            raise ValidationError(
                {"review_leak_customers_per_day": "A number of customers, 0 (off) or more."}
            )
        fields["review_leak_customers_per_day"] = leak_customers_per_day or None
    return program_update(program=program, **fields)


def program_reward_caps_set(
    *,
    program: Program,
    per_advocate_month: int | None = None,
    per_advocate_total: int | None = None,
    per_program_day: int | None = None,
) -> Program:
    """Set the program's reward caps (README, "Reward caps"); a cap not given keeps its
    value, 0 removes it. Raises ValidationError naming the field."""
    given = {
        "reward_cap_advocate_month": per_advocate_month,
        "reward_cap_advocate_total": per_advocate_total,
        "reward_cap_program_day": per_program_day,
    }
    fields = {}
    for name, value in given.items():
        if value is None:
            continue
        if value < 0:
            raise ValidationError({name: _("A cap is a number of rewards, 0 or more.")})
        fields[name] = value or None
    return program_update(program=program, **fields)

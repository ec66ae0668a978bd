"""Platform exports recognised by their column names (docs/architecture.md, Codes): which column
holds the codes, and which rows are no use (expired, inactive or already used in the shop), to be
skipped and counted rather than imported.

Each layout is told by the header cells it must hold, compared like every header cell (without
case, spaces, `_` or `-`), the most specific first:

- Stripe promotion codes (the API object's fields): `id`, `coupon`, `code`, `active`,
  `times_redeemed`, `max_redemptions`, `expires_at` (Unix seconds or ISO 8601). The codes are
  `code`; `coupon` is the coupon's id.
- WooCommerce coupons (a `shop_coupon` post export): `post_title` (the code), `post_status`
  (only `publish` is live), `usage_count`, `usage_limit`, `date_expires` (Unix seconds or a
  date).
- Voucherify vouchers (the dashboard's export): `Code`, `Active`, `Redeemed Quantity` (or
  `Redemption Count`), `Expiration Date`.
- Shopify discount codes: `Code`, `Status` (`Expired` is expired; `Disabled`, `Deactivated`,
  `Inactive` are inactive), `Usage count` (or `Used Count`), `Ends at` / `End date`.

A row is skipped, first reason that holds: inactive (its status), already used (its count of uses
above 0: a referral code must be fresh, so every order it brings is the advocate's), expired (its
expiry at or before the time the file is read).
"""

import datetime
from dataclasses import dataclass
from enum import StrEnum

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .cells import _blank, expiry_moment


class Skip(StrEnum):
    INACTIVE = "inactive"
    USED = "used"
    EXPIRED = "expired"


# Why a row was skipped, as the preview, the batch and the command say it ("12 skipped:
# expired in the file").
SKIP_REASONS = {
    Skip.INACTIVE: _("inactive in the file"),
    Skip.USED: _("already used, per the file"),
    Skip.EXPIRED: _("expired in the file"),
}


def skipped_phrases(skipped: dict) -> list[str]:
    """ "12 skipped: expired in the file", one per reason that skipped rows, in Skip's order."""
    return [
        gettext("%(count)s skipped: %(reason)s")
        % {"count": f"{skipped[reason]:,}", "reason": SKIP_REASONS[reason]}
        for reason in Skip
        if skipped.get(reason)
    ]


def _text(cell) -> str:
    if isinstance(cell, bool):
        return "true" if cell else "false"
    return str(cell).strip().casefold() if cell is not None else ""


_FALSE = frozenset({"false", "no", "n", "0", "inactive", "disabled"})


def _active_flag(cell):
    return Skip.INACTIVE if _text(cell) in _FALSE else None


def _woo_status(cell):
    return None if _text(cell) in ("publish", "") else Skip.INACTIVE


_SHOPIFY_STATUSES = {
    "expired": Skip.EXPIRED,
    "disabled": Skip.INACTIVE,
    "deactivated": Skip.INACTIVE,
    "inactive": Skip.INACTIVE,
}


def _shopify_status(cell):
    return _SHOPIFY_STATUSES.get(_text(cell))


def _used(cell) -> bool:
    """A count of uses above 0 (a number cell or its text); anything else is no use counted."""
    if isinstance(cell, bool) or _blank(cell):
        return False
    try:
        return float(str(cell).strip().replace(",", "")) > 0
    except ValueError:
        return False


def _epoch_or_iso(cell):
    """Unix seconds (Stripe's and WooCommerce's stored form) or what expiry_moment reads."""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = str(cell).strip() if isinstance(cell, str | int) and not isinstance(cell, bool) else ""
    if text.isdigit() and len(text) <= 12:
        return datetime.datetime.fromtimestamp(int(text), tz=datetime.UTC)
    return expiry_moment(cell)


@dataclass(frozen=True)
class Platform:
    name: str  # as the preview names it
    needs: tuple  # header keys it must hold; a tuple inside is one of several spellings
    code: str  # the key of its code column
    status: tuple = ()
    status_skip: object = None  # status cell → Skip or None
    used: tuple = ()
    expiry: tuple = ()
    read_expiry: object = expiry_moment


PLATFORMS = (
    Platform(
        name=_("Stripe promotion codes"),
        needs=("id", "coupon", "code", "active", "timesredeemed"),
        code="code",
        status=("active",),
        status_skip=_active_flag,
        used=("timesredeemed",),
        expiry=("expiresat",),
        read_expiry=_epoch_or_iso,
    ),
    Platform(
        name=_("WooCommerce coupons"),
        needs=("posttitle", "poststatus", "usagecount"),
        code="posttitle",
        status=("poststatus",),
        status_skip=_woo_status,
        used=("usagecount",),
        expiry=("dateexpires", "expirydate"),
        read_expiry=_epoch_or_iso,
    ),
    Platform(
        name=_("Voucherify vouchers"),
        needs=("code", "active", ("redeemedquantity", "redemptioncount")),
        code="code",
        status=("active",),
        status_skip=_active_flag,
        used=("redeemedquantity", "redemptioncount"),
        expiry=("expirationdate",),
    ),
    Platform(
        name=_("Shopify discount codes"),
        needs=("code", "status", ("usagecount", "usedcount", "codeusedcount")),
        code="code",
        status=("status",),
        status_skip=_shopify_status,
        used=("usagecount", "usedcount", "codeusedcount"),
        expiry=("endsat", "enddate", "expiresat"),
    ),
)

# Every header key a platform layout names: a first row made of such words is a header.
PLATFORM_KEYS = frozenset(
    key
    for platform in PLATFORMS
    for need in (*platform.needs, platform.status, platform.used, platform.expiry)
    for key in (need if isinstance(need, tuple) else (need,))
)


@dataclass(frozen=True)
class Recognised:
    """A platform found in a header row: where its columns are."""

    platform: Platform
    code: int
    status: int | None
    used: int | None
    expiry: int | None
    now: datetime.datetime

    def skip(self, cells):
        """Why this row is skipped (a Skip), or None to read it."""
        width = len(cells)
        if self.status is not None and self.status < width:
            reason = self.platform.status_skip(cells[self.status])
            if reason is not None:
                return reason
        if self.used is not None and self.used < width and _used(cells[self.used]):
            return Skip.USED
        if self.expiry is not None and self.expiry < width and not _blank(cells[self.expiry]):
            try:
                moment = self.platform.read_expiry(cells[self.expiry])
            except ValueError:
                return None  # refused as a bad date when the row is read
            if moment is not None and moment <= self.now:
                return Skip.EXPIRED
        return None


def recognise(keys: list) -> Recognised | None:
    """The platform whose columns a header row's keys (header_key of each cell) hold."""
    index = {}
    for i, key in enumerate(keys):
        if key is not None:
            index.setdefault(key, i)

    def first(names):
        return next((index[n] for n in names if n in index), None)

    for platform in PLATFORMS:
        if all(first(n if isinstance(n, tuple) else (n,)) is not None for n in platform.needs):
            return Recognised(
                platform=platform,
                code=index[platform.code],
                status=first(platform.status),
                used=first(platform.used),
                expiry=first(platform.expiry),
                now=timezone.now(),
            )
    return None

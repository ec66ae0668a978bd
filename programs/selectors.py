"""Reads about programs that more than one caller needs."""

from .models import ConsoleSettings, Program, Widget, WidgetComponentKind, time_zone_names


def program_get_by_slug(slug: str) -> Program | None:
    """The program with this slug, or None. Commands, participant tokens, widget CORS and the
    server API's key check all find a program this way."""
    if not isinstance(slug, str) or not slug:
        return None
    return Program.objects.filter(slug=slug).first()


def program_widget_components(*, program: Program) -> list[str]:
    """The components the program's widgets show (the kinds any of its widgets holds), in
    WidgetComponentKind's order. A program with no widget at all has set nothing up to honour:
    every component. Without `referral_promo_code` the widget shows no referral codes."""
    # One query: a row per widget and component (None for a widget without any).
    rows = list(Widget.objects.filter(program=program).values_list("components__kind", flat=True))
    if not rows:
        return list(WidgetComponentKind.values)
    return [kind for kind in WidgetComponentKind.values if kind in rows]


def console_time_zone_of(user) -> str:
    """The time zone a console user reads times in (their settings, else UTC)."""
    if not getattr(user, "is_authenticated", False):
        return ConsoleSettings.DEFAULT_TIME_ZONE
    zone = ConsoleSettings.objects.filter(user=user).values_list("time_zone", flat=True).first()
    # A zone a later tz database dropped reads as UTC rather than failing every page.
    return zone if zone in time_zone_names() else ConsoleSettings.DEFAULT_TIME_ZONE

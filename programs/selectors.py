"""Reads about programs that more than one caller needs."""

from .models import Program, Widget, WidgetComponentKind


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

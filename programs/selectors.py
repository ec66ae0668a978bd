"""Reads about programs that more than one caller needs."""

from .models import Program


def program_get_by_slug(slug: str) -> Program | None:
    """The program with this slug, or None. Commands, participant tokens, widget CORS and the
    server API's key check all find a program this way."""
    if not isinstance(slug, str) or not slug:
        return None
    return Program.objects.filter(slug=slug).first()

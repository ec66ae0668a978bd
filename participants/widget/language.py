"""Which offered language (settings.LANGUAGES) the widget speaks to an advocate.

In order, the first one offered: the participant's `locale` (upsert API, token claim), the
`?lang=` of the widget page (the script passes it on), the browser's Accept-Language, the
program's default language. A tag is matched loosely (`zh-CN` and `zh-Hans` find `zh-hans`,
`en-GB` finds `en`); one not offered falls through to the next.
"""

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

LANG_PARAM_MAX_LENGTH = 35


def offered_language(tag):
    """The offered language closest to `tag` (a BCP 47 tag, any case, `-` or `_`), or None."""
    if not isinstance(tag, str) or not tag or len(tag) > LANG_PARAM_MAX_LENGTH:
        return None
    try:
        return get_supported_language_variant(tag.replace("_", "-").lower())
    except LookupError:
        return None


def widget_language(*, locale="", requested="", accept_language="", program_default=""):
    for tag in (locale, requested):
        language = offered_language(tag)
        if language:
            return language
    for tag, _quality in parse_accept_lang_header(accept_language or ""):
        if tag == "*":
            break
        language = offered_language(tag)
        if language:
            return language
    return offered_language(program_default) or settings.LANGUAGE_CODE

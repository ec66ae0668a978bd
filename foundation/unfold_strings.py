"""Words of the console's theme (django-unfold) that it ships no translation for.

Listed here so `makemessages` keeps them in our catalogue (locale/), which Django reads before
any app's: the console's own chrome then speaks every offered language. Nothing imports this.
"""

from django.utils.translation import gettext_noop

UNFOLD_STRINGS = [
    gettext_noop("No data"),
    gettext_noop("Previous"),
    gettext_noop("Next"),
]

"""Words of the console's theme (django-unfold), its import pages (django-import-export) and
the audit trail's actions (django-auditlog) that they ship no Chinese for.

Listed here so `makemessages` keeps them in our catalogue (locale/), which Django reads before
any app's: the console's own chrome then speaks every offered language. Nothing imports this.
"""

from django.utils.translation import gettext_noop

UNFOLD_STRINGS = [
    gettext_noop("No data"),
    gettext_noop("Previous"),
    gettext_noop("Next"),
    gettext_noop("Apply Filters"),
    gettext_noop("Reset filters"),
    gettext_noop("Select action"),
    gettext_noop("Select all rows"),
    gettext_noop("Select value"),
    gettext_noop("Run"),
    gettext_noop("Actions"),
    gettext_noop("Select format"),
    gettext_noop("Resource"),
    gettext_noop("Encoding"),
    gettext_noop("Import finished"),
    gettext_noop("Type to search"),
    gettext_noop("Dark"),
    gettext_noop("Light"),
    gettext_noop("System"),
    gettext_noop("create"),
    gettext_noop("update"),
    gettext_noop("delete"),
    gettext_noop("access"),
]

"""Links in the console's lists and tables, coloured like its other links (one place for the
class every app's admin uses)."""

from django.utils.html import format_html

LINK_CLASS = "text-primary-600 dark:text-primary-500"


def admin_link(url: str, text) -> str:
    """`<a>` to `url` showing `text` (escaped), in the console's link colour."""
    return format_html('<a class="{}" href="{}">{}</a>', LINK_CLASS, url, text)

"""Links and words the console's code pages share."""

from django.urls import reverse
from django.utils.translation import pgettext_lazy

# A code's status in the code manager's list: the stored word, in the manager's language.
_STATUS_WORDS = {
    "available": pgettext_lazy("code status", "available"),
    "assigned": pgettext_lazy("code status", "assigned"),
    "assigned (reserved)": pgettext_lazy("code status", "assigned (reserved)"),
    "redeemed": pgettext_lazy("code status", "redeemed"),
    "voided": pgettext_lazy("code status", "voided"),
    "expired": pgettext_lazy("code status", "expired"),
    "not yet valid": pgettext_lazy("code status", "not yet valid"),
}


def leaked_codes_url(program):
    return (
        reverse("admin:codes_promocode_changelist") + f"?leaked=yes&program__id__exact={program.pk}"
    )


def _upload_url(pool=None):
    url = reverse("admin:codes_batch_upload")
    return f"{url}?pool={pool.pk}" if pool else url


def stock_url(program):
    return reverse("admin:codes_program_stock", args=[program.pk])

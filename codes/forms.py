"""Admin forms for uploading code files (two steps: preview, then confirm)."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from .models import Pool
from .parsing import FORMATS, UnreadableFile, file_format
from .services import validate_pool_name, validate_recipients
from .services.batches import InvalidValidity, validity_checked
from .services.voiding import VOID_REASON_MAX


class CodeUploadForm(forms.Form):
    pool = forms.ModelChoiceField(
        queryset=Pool.objects.none(), label=_("Pool"), widget=UnfoldAdminSelectWidget
    )
    import_file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV, TSV, TXT (one code a line), XLSX, XLS, ODS or JSON. The first row is a "
            "header when one of its cells names the codes (code, promo code, discount code, coupon "
            "code, voucher code, coupon…; any case): that column is read, and the preview lets you "
            "pick another. Shopify, WooCommerce, Stripe and Voucherify exports are recognised. A "
            "column headed expires_at, expires, valid until or end date gives each code its own "
            "expiry (a date cell or 2026-12-31 / 2026-12-31T18:00)."
        ),
        widget=UnfoldAdminFileFieldWidget(attrs={"accept": ",".join("." + f for f in FORMATS)}),
    )

    valid_from = forms.DateTimeField(
        required=False,
        label=_("Valid from"),
        help_text=_(
            "Optional: the codes cannot be handed out or used before this time (in your "
            "time zone, e.g. 2027-01-01 00:00)."
        ),
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "YYYY-MM-DD HH:MM"}),
    )
    expires_at = forms.DateTimeField(
        required=False,
        label=_("Expires at"),
        help_text=_(
            "Optional: the codes stop working at this time (in your time zone). A code's "
            "own expiry in the file wins."
        ),
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "YYYY-MM-DD HH:MM"}),
    )

    def __init__(self, *args, pools, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].queryset = pools

    def clean(self):
        cleaned = super().clean()
        try:
            validity_checked(
                valid_from=cleaned.get("valid_from"), expires_at=cleaned.get("expires_at")
            )
        except InvalidValidity as error:
            self.add_error("expires_at", str(error))
        return cleaned

    def clean_pool(self):
        pool = self.cleaned_data["pool"]
        if not pool.program.promo_codes_enabled:
            raise forms.ValidationError(
                _("Referral promo codes are off for program “%(program)s”: turn them on first.")
                % {"program": pool.program}
            )
        return pool

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        try:
            file_format(upload.name)
        except UnreadableFile as exc:
            raise forms.ValidationError(str(exc)) from None
        limit = settings.CODES_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _(
                    "This file is %(size)s bytes; the admin takes at most %(limit)s. "
                    "Use the import_codes command for bigger files."
                )
                % {"size": f"{upload.size:,}", "limit": f"{limit:,}"}
            )
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return upload


class ConfirmUploadForm(forms.Form):
    """The confirmation carries only the preview's signed reference (codes.upload_store): the
    file, its name and its pool are what the preview kept, never what the request says."""

    upload = forms.CharField(widget=forms.HiddenInput, max_length=2000)
    # The validity chosen with the file, carried from the preview (checked again).
    valid_from = forms.DateTimeField(required=False, widget=forms.HiddenInput)
    expires_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        try:
            validity_checked(
                valid_from=cleaned.get("valid_from"), expires_at=cleaned.get("expires_at")
            )
        except InvalidValidity as error:
            raise forms.ValidationError(str(error)) from None
        return cleaned


def _field_error(error: ValidationError, field: str) -> forms.ValidationError:
    messages = error.message_dict.get(field) if hasattr(error, "message_dict") else None
    return forms.ValidationError(messages or error.messages)


class PoolForm(forms.ModelForm):
    """A fuel tank's settings (the referral pool takes its settings from the program)."""

    class Meta:
        model = Pool
        fields = [
            "program",
            "kind",
            "name",
            "low_stock_threshold",
            "low_stock_recipients",
            "code_pattern",
        ]
        widgets = {"low_stock_recipients": UnfoldAdminTextareaWidget(attrs={"rows": 3})}
        help_texts = {
            "low_stock_threshold": _(
                "E-mail the recipients when this many codes or fewer are left."
            ),
            "low_stock_recipients": _("One address per line (or comma-separated)."),
        }

    pays_rewards = forms.BooleanField(
        required=False,
        label=_("Pays the program's fuel-tank rewards"),
        help_text=_("Rewards of kind “fuel tank code” take their code from this tank."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["pays_rewards"].initial = self.instance.pays_rewards

    def clean_name(self):
        try:
            return validate_pool_name(self.cleaned_data.get("name", ""))
        except ValidationError as error:
            raise _field_error(error, "name") from None

    def clean_low_stock_recipients(self):
        try:
            return validate_recipients(self.cleaned_data.get("low_stock_recipients", ""))
        except ValidationError as error:
            raise _field_error(error, "low_stock_recipients") from None


class VoidForm(forms.Form):
    reason = forms.CharField(
        max_length=VOID_REASON_MAX,
        required=False,
        label=_("Why"),
        help_text=_("Kept with each code, e.g. “leaked on a coupon site”."),
        widget=UnfoldAdminTextInputWidget(),
    )

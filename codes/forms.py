"""Admin forms for uploading code files (two steps: preview, then confirm)."""

from django import forms
from django.conf import settings

from programs.validators import validate_single_line

from .models import Pool
from .parsing import FORMATS, UnreadableFile, file_format


class PoolForm(forms.ModelForm):
    """A pool's name reaches low-stock e-mail subjects: one line, no control characters.
    (The model refuses it too once codes.models carries the validator.)"""

    name = forms.CharField(max_length=100, validators=[validate_single_line])

    class Meta:
        model = Pool
        fields = ["program", "kind", "name", "low_stock_threshold", "low_stock_recipients"]


class CodeUploadForm(forms.Form):
    pool = forms.ModelChoiceField(queryset=Pool.objects.none())
    import_file = forms.FileField(
        label="File",
        help_text="CSV, TSV, TXT (one code a line), XLSX, XLS, ODS or JSON. The first row is a "
        "header when one of its cells reads “code”; otherwise the first column holds the codes.",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join("." + f for f in FORMATS)}),
    )

    def __init__(self, *args, pools, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].queryset = pools

    def clean_pool(self):
        pool = self.cleaned_data["pool"]
        if not pool.program.promo_codes_enabled:
            raise forms.ValidationError(
                f"Referral promo codes are off for program “{pool.program}”: turn them on first."
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
                f"This file is {upload.size:,} bytes; the admin takes at most {limit:,}. "
                "Use the import_codes command for bigger files."
            )
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload


class ConfirmUploadForm(forms.Form):
    """The confirmation carries only the preview's signed reference (codes.upload_store): the
    file, its name and its pool are what the preview kept, never what the request says."""

    upload = forms.CharField(widget=forms.HiddenInput, max_length=2000)

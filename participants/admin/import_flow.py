"""Importing participants from a file: the forms and the storage that keeps the upload."""

from django import forms
from django.utils.translation import gettext_lazy as _
from import_export.forms import ConfirmImportForm
from import_export.tmp_storages import BaseStorage
from unfold.contrib.import_export.forms import ImportForm

from codes.upload_store import (
    UploadExpired,
    upload_claim,
    upload_verify,
)

# Links in lists and tables, coloured like the console's other links.


class ParticipantImportForm(ImportForm):
    program = forms.ModelChoiceField(
        queryset=None, label=_("Program"), help_text=_("Import into this program.")
    )
    field_order = ["program", "resource", "import_file", "format"]

    def __init__(self, formats, resources, *, programs=None, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["program"].queryset = programs


class ParticipantConfirmImportForm(ConfirmImportForm):
    """The confirmation's `import_file_name` is the preview's signed reference
    (codes.upload_store), valid for the user who previewed: never a file name or a path. The
    file's name shown and logged is the one the preview kept."""

    program = forms.ModelChoiceField(queryset=None, widget=forms.HiddenInput())

    def __init__(self, *args, programs=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs
        self.fields["original_file_name"].required = False
        self.user = user

    def clean_import_file_name(self):
        try:
            pending = upload_verify(reference=self.cleaned_data["import_file_name"], user=self.user)
        except UploadExpired:
            pending = None
        if pending is None or pending.pool_id is not None:  # a code upload's reference
            raise forms.ValidationError(
                _("This import is not yours or has expired: upload the file again.")
            )
        return pending

    def clean(self):
        cleaned = super().clean()
        pending = cleaned.get("import_file_name")
        if pending is not None:
            cleaned["original_file_name"] = pending.file_name
        return cleaned


class _KeptUploadStorage(BaseStorage):
    """django-import-export's temporary storage for the participant import, writing nothing
    to the system temp folder. The preview holds the file in memory for its own request (the
    admin keeps it in codes.upload_store once the preview is clean); the confirm step's `name`
    is the PendingUpload its form verified, claimed once from the store."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.data = None

    def save(self, data):
        self.data = data

    def read(self):
        if self.data is None:
            self.data = bytes(upload_claim(self.name))  # UploadExpired when gone
        return self.data

    def remove(self):
        self.data = None  # claiming removed the kept file

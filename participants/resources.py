"""Participant import (admin, CSV/XLSX/…) through the same service as the API upsert."""

from django.core.exceptions import ValidationError
from import_export import fields, resources

from .models import ERASED_ID_PREFIX, Participant, is_reserved_participant_id
from .services import ReferralRefused, participant_upsert_referred

IMPORT_COLUMNS = ("participant_id", "email", "first_name", "last_name", "referred_by_code")


class ParticipantImportResource(resources.ModelResource):
    """One row per participant: participant_id, email, first_name, last_name,
    referred_by_code. Each row goes through participant_upsert_referred (codes topped up, the
    referral linked); a refused referred_by_code makes that row invalid. The preview is the
    same import run in a transaction that is rolled back."""

    referred_by_code = fields.Field(column_name="referred_by_code")

    class Meta:
        model = Participant
        fields = IMPORT_COLUMNS
        import_id_fields = ("participant_id",)
        use_transactions = True
        skip_unchanged = False
        report_skipped = True

    def __init__(self, program=None, **kwargs):
        super().__init__()
        self.program = program

    def get_queryset(self):
        return Participant.objects.filter(program=self.program)

    def before_import(self, dataset, **kwargs):
        if self.program is None:
            raise ValidationError("Choose the program to import participants into.")
        missing = {"participant_id"} - set(dataset.headers or ())
        if missing:
            raise ValidationError(
                "The file needs a header row with a participant_id column "
                f"(columns: {', '.join(IMPORT_COLUMNS)})."
            )

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        instance.program = self.program
        instance.participant_id = _text(row.get("participant_id"))
        if not instance.participant_id:
            raise ValidationError({"participant_id": "A participant id is required."})
        if is_reserved_participant_id(instance.participant_id):
            raise ValidationError(
                {"participant_id": f"Ids starting with {ERASED_ID_PREFIX!r} are reserved."}
            )

    def save_instance(self, instance, is_create, row, **kwargs):
        try:
            participant, _ = participant_upsert_referred(
                program=self.program,
                participant_id=instance.participant_id,
                referred_by_code=_text(row.get("referred_by_code")) or None,
                **{
                    name: _text(row.get(name))
                    for name in ("email", "first_name", "last_name")
                    if name in row
                },
            )
        except ReferralRefused as refused:
            raise ValidationError({"referred_by_code": str(refused)}) from None
        instance.pk = participant.pk
        instance.refresh_from_db()


def _text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet id cell like 1042.0
    return str(value).strip()

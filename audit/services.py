"""Audit entries written explicitly: events that are not one row's field changes (a void of
many codes, a participant erased, a reward marked paid), or changes made by bulk UPDATEs."""

from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from .models import AuditEntry

Action = AuditEntry.Action
ERASED = "[erased]"


def audit_record(
    *,
    obj,
    event: str,
    changes: dict | None = None,
    details: dict | None = None,
    action: int = Action.UPDATE,
    object_repr: str | None = None,
) -> AuditEntry:
    """One entry about `obj` (a model instance): `event` says what happened, `changes` the
    fields it changed ({field: [old, new]}, as auditlog writes them), `details` anything else
    worth keeping (counts, a reason). The actor comes from the current context."""
    kwargs = {
        "action": action,
        "changes": {name: [_text(old), _text(new)] for name, (old, new) in (changes or {}).items()},
        "additional_data": details or None,
        "event": event,
        "serialized_data": None,
    }
    if object_repr is not None:
        kwargs["object_repr"] = object_repr
    return AuditEntry.objects.log_create(obj, force_log=True, **kwargs)


def _text(value):
    # auditlog keeps values as text ("None" for none); so do these entries.
    return "None" if value is None else str(value)


def audit_entries_for(obj):
    """An object's entries, newest first."""
    return AuditEntry.objects.get_for_object(obj).select_related("actor").order_by("-timestamp")


def audit_entries_of_program(program_id: int):
    return (
        AuditEntry.objects.filter(program_id=program_id)
        .select_related("actor", "content_type")
        .order_by("-timestamp")
    )


def audit_forget(*, obj, values: list[str], new_repr: str, related=()) -> int:
    """Remove erased personal values from what the audit trail and the admin's history kept
    about `obj`: its entries' object_repr becomes `new_repr`, and any text in their changes or
    details containing one of `values` becomes "[erased]". `related` objects (e.g. the
    participant's rewards) have their object_repr recomputed from their (already erased)
    current text. Returns how many entries were rewritten."""
    needles = [v.lower() for v in values if v and len(v) >= 3]
    content_type = ContentType.objects.get_for_model(type(obj))
    rewritten = 0
    for entry in AuditEntry.objects.filter(content_type=content_type, object_id=obj.pk):
        # An UPDATE, not save(): an old entry keeps the actor it had.
        rewritten += AuditEntry.objects.filter(pk=entry.pk).update(
            object_repr=new_repr,
            changes=_scrub(entry.changes, needles),
            additional_data=_scrub(entry.additional_data, needles),
            changes_text="",
            serialized_data=None,
        )
    rewritten += AdminLogEntry.objects.filter(
        content_type=content_type, object_id=str(obj.pk)
    ).update(object_repr=new_repr[:200])
    for other in related:
        other_type = ContentType.objects.get_for_model(type(other))
        text = str(other)
        rewritten += AuditEntry.objects.filter(content_type=other_type, object_id=other.pk).update(
            object_repr=text
        )
        rewritten += AdminLogEntry.objects.filter(
            Q(content_type=other_type) & Q(object_id=str(other.pk))
        ).update(object_repr=text[:200])
    return rewritten


def _scrub(value, needles):
    if not needles:
        return value
    if isinstance(value, str):
        return ERASED if any(n in value.lower() for n in needles) else value
    if isinstance(value, list):
        return [_scrub(item, needles) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, needles) for key, item in value.items()}
    return value

"""Audit entries written explicitly: events that are not one row's field changes (a void of
many codes, a participant erased, a reward marked paid), or changes made by bulk UPDATEs."""

from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from foundation.redaction import ERASED, needles, pattern, redact

from .models import AuditEntry

Action = AuditEntry.Action


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


def audit_forget_text(*, program_id: int, values: list[str]) -> int:
    """Cut erased personal values out of every text the trail and the admin's history hold that
    quotes them, whatever object the entry is about: a void of a batch whose reason named the
    person, a block reason, a change message. The rest of each text stays ("Leaked by
    [erased]"). The program's entries (and those of no program) are searched; the admin's
    history has no program and is searched whole. Returns how many entries were rewritten."""
    compiled = pattern(values)
    if compiled is None:
        return 0
    quoting = Q()
    for value in needles(values):
        quoting |= (
            Q(object_repr__icontains=value)
            | Q(changes_text__icontains=value)
            | Q(changes__icontains=value)
            | Q(additional_data__icontains=value)
        )
    entries = AuditEntry.objects.filter(
        Q(program_id=program_id) | Q(program_id__isnull=True)
    ).filter(quoting)
    rewritten = 0
    for entry in entries.only("pk", "object_repr", "changes_text", "changes", "additional_data"):
        rewritten += AuditEntry.objects.filter(pk=entry.pk).update(
            object_repr=redact(entry.object_repr, compiled),
            changes_text=redact(entry.changes_text, compiled),
            changes=redact(entry.changes, compiled),
            additional_data=redact(entry.additional_data, compiled),
            serialized_data=None,
        )
    admin_quoting = Q()
    for value in needles(values):
        admin_quoting |= Q(change_message__icontains=value) | Q(object_repr__icontains=value)
    for entry in AdminLogEntry.objects.filter(admin_quoting).only(
        "pk", "change_message", "object_repr"
    ):
        rewritten += AdminLogEntry.objects.filter(pk=entry.pk).update(
            change_message=redact(entry.change_message, compiled),
            object_repr=redact(entry.object_repr, compiled)[:200],
        )
    return rewritten

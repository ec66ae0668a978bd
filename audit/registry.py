"""Which models the audit trail follows, and how each finds its program.

Each app registers its own models in AppConfig.ready (`audit.registry.track`), so this app
never imports theirs. Only models written by people and clients are tracked: no model written
per code or per order (promo codes, conversions, participants on upsert, rewards on grant), so
the hot paths (assignment, redemption, import) write no audit rows.
"""

from collections.abc import Callable

from auditlog.registry import auditlog

_program_of: dict[type, Callable] = {}


def track(model, *, program: Callable | None = None, **options) -> None:
    """Record every create, update and delete of `model` (auditlog.register `options`), and
    remember how an instance names its program (`program(instance)` → id)."""
    auditlog.register(model, **options)
    expose_program(model, program)


def expose_program(model, program: Callable | None) -> None:
    """How an instance of `model` names its program, for entries written explicitly."""
    if program is not None:
        _program_of[model] = program


def program_id_of(instance) -> int | None:
    getter = _program_of.get(type(instance))
    if getter is not None:
        return getter(instance)
    return getattr(instance, "program_id", None)

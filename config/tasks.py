"""Enqueueing Celery tasks so that a broken broker never fails a request (DESIGN §2 Resilience).

`enqueue_on_commit(task, *args, **kwargs)` is the one way to start a task from a write: the
message is sent after the transaction commits (DESIGN §3), and if it cannot be sent (the broker
is unreachable), or the task fails when run eagerly (no broker configured), the failure is logged
in one clear line and the request answers as usual: what it wrote is committed, and the periodic
tasks (celery beat) redo the work (a stock alert not yet sent is sent by the next stock check, a
waiting upload batch is picked up by `codes.process_waiting_uploads`).

ResilientTask, the base class of every task of the project (config.celery), does the same for a
plain `.delay()`/`.apply_async()` when a broker is configured: a broker error is logged and the
call returns None. (Run eagerly, a task's own failure still raises from `.delay()`; only
enqueue_on_commit keeps it from the request.)
"""

import logging

from celery import Task
from django.db import transaction

from .resilience import BROKER_ERRORS

log = logging.getLogger("config.tasks")


def _describe(task, args, kwargs):
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{task.name}({', '.join(shown)})"


def enqueue_now(task, *args, **kwargs):
    """Send `task` now; return whether it was sent (or, eagerly, ran) without an error."""
    eager = task.app.conf.task_always_eager
    try:
        sent = task.apply_async(args=args, kwargs=kwargs)
    except Exception as exc:
        if not eager and isinstance(exc, BROKER_ERRORS):
            _log_unsent(task, args, kwargs, exc)
        else:  # run in-process (no broker): the task itself failed
            log.exception(
                "Task %s failed when run in-process after the commit; the request went on.",
                _describe(task, args, kwargs),
            )
        return False
    return sent is not None


def _log_unsent(task, args, kwargs, exc):
    log.error(
        "Could not enqueue %s: the Celery broker is unreachable (%s). The request went on; "
        "the periodic tasks will redo this work.",
        _describe(task, args, kwargs),
        exc,
    )


def enqueue_on_commit(task, *args, **kwargs):
    """Enqueue `task(*args, **kwargs)` once the current transaction commits (at once outside
    one). Never raises: a failure to enqueue is logged (see the module's docstring)."""
    transaction.on_commit(lambda: enqueue_now(task, *args, **kwargs))


class ResilientTask(Task):
    """A task whose `apply_async` logs a broker error instead of raising it (returns None)."""

    def apply_async(self, args=None, kwargs=None, *rest, **options):
        if self.app.conf.task_always_eager:
            return super().apply_async(args, kwargs, *rest, **options)  # no broker involved
        try:
            return super().apply_async(args, kwargs, *rest, **options)
        except BROKER_ERRORS as exc:
            _log_unsent(self, args or (), kwargs or {}, exc)
            return None

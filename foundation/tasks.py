"""Enqueueing Celery tasks after a commit, without letting a broken broker fail the request."""

import logging
from functools import partial

from django.db import transaction

log = logging.getLogger("foundation.tasks")


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send `task` with these arguments once the current transaction commits (at once outside
    one). What the transaction recorded is already safe by then: if the broker cannot take the
    task, the failure is logged, never raised, and the periodic tasks redo the work."""
    transaction.on_commit(partial(_send, task, args, kwargs))


def _send(task, args, kwargs) -> None:
    if task.app.conf.task_always_eager:
        # No broker (the embedded default, the tests): the task runs here and now, and an
        # error in it is a bug to see, not a neighbour to survive.
        task.delay(*args, **kwargs)
        return
    try:
        task.delay(*args, **kwargs)
    except Exception as error:  # the broker is unreachable: the committed request stands
        log.error(
            "Could not enqueue %s%r: %s: %s. The periodic tasks will redo the work.",
            task.name,
            args,
            type(error).__name__,
            error,
        )

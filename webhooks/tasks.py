"""Celery tasks of the webhooks app (queue `webhooks`): thin, they call the services."""

from celery import shared_task

from . import services

SWEEP_CHUNK = 50


@shared_task(name="webhooks.deliveries_send")
def deliveries_send(delivery_ids):
    """One attempt at each of these deliveries that is due (enqueued when their change commits,
    and by the sweep)."""
    attempts = services.deliveries_attempt(delivery_ids=delivery_ids)
    return sum(attempt.delivered for attempt in attempts.values())


@shared_task(name="webhooks.deliveries_sweep")
def deliveries_sweep():
    """Periodic: send what is due (retries, and events whose send the broker lost)."""
    ids = services.deliveries_sweep()
    for start in range(0, len(ids), SWEEP_CHUNK):
        chunk = ids[start : start + SWEEP_CHUNK]
        if deliveries_send.app.conf.task_always_eager:
            deliveries_send(chunk)
        else:
            deliveries_send.delay(chunk)
    return len(ids)


@shared_task(name="webhooks.deliveries_prune")
def deliveries_prune():
    """Periodic: the delivery log keeps 30 days."""
    return services.deliveries_prune()

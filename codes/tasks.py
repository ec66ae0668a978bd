"""Celery tasks of the codes app: thin, each loads what it needs and calls a service.

Enqueue them with config.tasks.enqueue_on_commit (after the commit; a broker failure is logged,
never raised into the request), never inside an open transaction.
"""

import logging
from datetime import timedelta

from celery import shared_task

from programs.models import Program

from . import selectors, services
from .models import Pool, PoolKind

log = logging.getLogger(__name__)


@shared_task(name="codes.send_stock_alert")
def send_stock_alert(alert_id):
    return services.stock_alert_send(alert_id=alert_id)


@shared_task(name="codes.check_code_stock")
def check_code_stock(program_id=None):
    """Periodic: check every pool (of one program, or all) and send the alerts now due."""
    program = Program.objects.get(pk=program_id) if program_id else None
    alerts = 0
    for pool in selectors.program_pools(program=program):
        alerts += len(services.pool_stock_check(pool_id=pool.pk))
    return alerts


@shared_task(name="codes.top_up_short_advocates")
def top_up_short_advocates(program_id=None):
    """Top up advocates short of codes (of one program, or of every program that has some)."""
    programs = Program.objects.filter(promo_codes_enabled=True)
    if program_id:
        programs = programs.filter(pk=program_id)
    else:
        programs = programs.filter(participants__codes_short_since__isnull=False).distinct()
    assigned = 0
    for program in programs:
        run = services.codes_top_up_short(program=program)
        assigned += run.codes_assigned
        log.info("Top-up of %s: %s", program.slug, run)
    return assigned


@shared_task(name="codes.top_up_program_advocates")
def top_up_program_advocates(program_id):
    program = Program.objects.get(pk=program_id)
    run = services.codes_top_up_program(program=program)
    log.info("Top-up of all advocates of %s: %s", program.slug, run)
    return run.codes_assigned


@shared_task(name="codes.pool_batch_landed")
def pool_batch_landed_task(pool_id):
    pool = Pool.objects.select_related("program").get(pk=pool_id)
    services.pool_stock_check(pool_id=pool.pk)  # re-arms the alerts if stock rose
    if pool.kind == PoolKind.REFERRAL:
        return services.codes_top_up_short(program=pool.program).codes_assigned
    return 0


@shared_task(name="codes.batch_process_upload")
def batch_process_upload_task(batch_id):
    services.batch_process_upload(batch_id=batch_id)


# An upload batch still waiting this long was never picked up (its task was not enqueued).
WAITING_UPLOAD_GRACE = timedelta(minutes=10)


@shared_task(name="codes.process_waiting_uploads")
def process_waiting_uploads():
    """Periodic: import the admin uploads whose task never ran (the broker was unreachable when
    they were confirmed). batch_process_upload claims a batch before importing it, so a batch
    is never imported twice."""
    waiting = selectors.upload_batches_waiting(older_than=WAITING_UPLOAD_GRACE)
    for batch_id in waiting:
        log.info("Importing upload batch %s, which waited past its task", batch_id)
        services.batch_process_upload(batch_id=batch_id)
    return len(waiting)

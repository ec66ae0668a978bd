"""Celery tasks of the codes app: thin, each loads what it needs and calls a service.

Enqueue them on commit (foundation.tasks.enqueue_on_commit), never inside an open transaction.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from foundation.tasks import enqueue_on_commit
from programs.models import Program

from . import selectors, services
from .models import CodeShortfall, Pool, PoolKind
from .signals import pool_restocked
from .upload_store import upload_sweep

log = logging.getLogger(__name__)


@shared_task(name="codes.send_stock_alert")
def send_stock_alert(alert_id):
    return services.stock_alert_send(alert_id=alert_id)


@shared_task(name="codes.send_leak_alert")
def send_leak_alert(alert_id):
    return services.leak_alert_send(alert_id=alert_id)


@shared_task(name="codes.check_code_stock")
def check_code_stock(program_id=None):
    """Periodic: check every pool (of one program, or all), send the alerts now due and those
    whose e-mail never went out."""
    program = Program.objects.get(pk=program_id) if program_id else None
    alerts = 0
    for pool in selectors.program_pools(program=program):
        alerts += len(services.pool_stock_check(pool_id=pool.pk, resend_unsent=True))
    return alerts


@shared_task(name="codes.top_up_short_advocates")
def top_up_short_advocates(program_id=None):
    """Top up advocates short of codes (of one program, or of every program that has some)."""
    programs = Program.objects.filter(promo_codes_enabled=True)
    if program_id:
        programs = programs.filter(pk=program_id)
    else:
        queued = CodeShortfall.objects.values("program_id").distinct()
        programs = programs.filter(pk__in=queued)
    assigned = 0
    for program in programs:
        run = services.codes_top_up_short(program=program)
        assigned += run.codes_assigned
        log.info("Top-up of %s: %s", program.slug, run)
    return assigned


# The window the periodic top-up of expired codes looks back over: four times its schedule
# (config.settings), so a missed run or two loses nobody.
EXPIRED_TOP_UP_WINDOW = timedelta(hours=1)


@shared_task(name="codes.top_up_expired_holders")
def top_up_expired_holders():
    """Periodic: announce the codes that expired (code.expired, each once), then give
    advocates whose referral code just expired a fresh one."""
    _announce_expired()
    run = services.codes_top_up_expired(since=timezone.now() - EXPIRED_TOP_UP_WINDOW)
    log.info("Top-up after expiry: %s", run)
    return run.codes_assigned


@shared_task(name="codes.announce_expired_codes")
def announce_expired_codes():
    """The announcement of expired codes going on where a run stopped at its bound (a large
    batch expired at once): it enqueues itself again until none is left."""
    return _announce_expired()


def _announce_expired() -> int:
    run = services.codes_expired_announce()
    if run.announced:
        log.info("Expired codes announced: %s%s", run.announced, " (more to come)" * run.more)
    if run.more:
        enqueue_on_commit(announce_expired_codes)
    return run.announced


@shared_task(name="codes.pool_batch_landed")
def pool_batch_landed_task(pool_id):
    pool = Pool.objects.select_related("program").get(pk=pool_id)
    services.pool_stock_check(pool_id=pool.pk)  # re-arms the alerts if stock rose
    assigned = 0
    if pool.kind == PoolKind.REFERRAL:
        assigned = services.codes_top_up_short(program=pool.program).codes_assigned
    pool_restocked.send(sender=Pool, pool=pool)  # fuel tanks: rewards waiting for a code
    return assigned


@shared_task(name="codes.batch_process_upload")
def batch_process_upload_task(batch_id):
    services.batch_process_upload(batch_id=batch_id)


# An upload batch still waiting this long was never picked up (its task was not enqueued).
WAITING_UPLOAD_GRACE = timedelta(minutes=10)
# A background import writes a heartbeat at least every STAGING_CHUNK_ROWS rows (seconds apart);
# one silent this long lost its worker (killed, or its machine gone).
STALLED_UPLOAD_GRACE = timedelta(minutes=5)


@shared_task(name="codes.process_waiting_uploads")
def process_waiting_uploads():
    """Periodic: import the admin uploads whose task never ran (the broker was unreachable when
    they were confirmed), and those whose worker died mid-import (imported again, or failed
    with a reason after a few attempts). batch_process_upload and batch_resume_stalled take a
    batch before importing it, so a batch is never imported twice. Also drops the staging
    tables of imports whose process died."""
    services.import_staging_sweep()
    waiting = selectors.upload_batches_waiting(older_than=WAITING_UPLOAD_GRACE)
    for batch_id in waiting:
        log.info("Importing upload batch %s, which waited past its task", batch_id)
        services.batch_process_upload(batch_id=batch_id)
    now = timezone.now()
    stalled = selectors.upload_batches_stalled(older_than=STALLED_UPLOAD_GRACE, now=now)
    for batch_id in stalled:
        services.batch_resume_stalled(batch_id=batch_id, stalled_before=now - STALLED_UPLOAD_GRACE)
    return len(waiting) + len(stalled)


@shared_task(name="codes.sweep_waiting_uploads")
def sweep_waiting_uploads():
    """Periodic: remove the admin uploads (code files, participant files) previewed and never
    confirmed, once past their time."""
    return upload_sweep()

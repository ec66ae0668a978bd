"""Celery queues: each kind of task waits in its own queue, and a worker consumes them all
unless told which (docs/deploy.md, Celery queues)."""

import subprocess

import pytest
from django.conf import settings

from config.celery import app
from tests.config.processes import procfile

# What each queue is for, by the project's task names.
EXPECTED = {
    "codes.batch_process_upload": "imports",
    "codes.process_waiting_uploads": "imports",
    "codes.send_stock_alert": "alerts",
    "codes.check_code_stock": "alerts",
    "codes.send_leak_alert": "alerts",
    "conversions.detect_leaked_codes": "alerts",
    "codes.top_up_short_advocates": "topups",
    "codes.pool_batch_landed": "topups",
    "participants.top_up_program_advocates": "topups",
    "participants.rewards_fill_waiting": "topups",
    "participants.rewards_release_due": "celery",
    "webhooks.deliveries_send": "webhooks",
    "webhooks.deliveries_sweep": "webhooks",
    "webhooks.deliveries_prune": "webhooks",
}


def queue_of(task_name):
    return app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize(("task", "queue"), EXPECTED.items())
def test_each_task_goes_to_its_queue(task, queue):
    assert queue_of(task) == queue


def test_every_task_of_the_project_goes_to_a_declared_queue():
    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    assert set(EXPECTED) <= set(ours)
    declared = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert declared == {"celery", "imports", "alerts", "topups", "webhooks"}
    assert {queue_of(name) for name in ours} <= declared
    # A worker started without -Q consumes every declared queue.
    assert set(app.amqp.queues) == declared


def procfile_worker_command(**env):
    """The Procfile's worker command as the shell expands it."""
    result = subprocess.run(
        ["/bin/sh", "-c", f"printf '%s\\n' {procfile()['worker']}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_the_procfile_worker_takes_every_queue_unless_told_which():
    assert "--queues" not in procfile_worker_command()
    dedicated = procfile_worker_command(CELERY_WORKER_QUEUES="imports")
    assert dedicated[dedicated.index("--queues") + 1] == "imports"

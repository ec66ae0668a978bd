"""Celery tasks of the codes app: thin, they load and call a service."""

from celery import shared_task

from .services import batch_process_upload


@shared_task(name="codes.batch_process_upload")
def batch_process_upload_task(batch_id):
    batch_process_upload(batch_id=batch_id)

from celery import shared_task

from .services import rewards_release_due


@shared_task(name="participants.rewards_release_due")
def rewards_release_due_task():
    """Periodic (beat): pending rewards whose review period is over become available."""
    return rewards_release_due()

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Every task's .delay()/.apply_async() logs an unreachable broker instead of raising it
# (config.tasks): a request whose writes are committed never fails for want of the broker.
app = Celery("referral_promo_codes", task_cls="config.tasks:ResilientTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

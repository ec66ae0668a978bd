"""Who and why on every audit entry, from the current context (audit.context)."""

from celery.signals import task_postrun, task_prerun
from django.db.models.signals import pre_save
from django.dispatch import receiver

from .context import audit_actor_enter, audit_actor_exit, current_actor, current_event, task_label
from .models import AuditEntry


@receiver(pre_save, sender=AuditEntry, dispatch_uid="audit.fill_actor")
def fill_actor(sender, instance, **kwargs):
    if not instance._state.adding:
        return  # an entry is attributed once, when written
    actor = current_actor()
    if actor is not None:
        user = actor.resolved_user()
        if instance.actor_id is None and user is not None:
            instance.actor = user
            instance.actor_email = getattr(user, "email", None) or None
        if not instance.actor_label and actor.label:
            instance.actor_label = actor.label
        if instance.remote_addr is None:
            instance.remote_addr = actor.remote_addr
    if not instance.event:
        instance.event = current_event()


# A task names itself as the actor, unless it runs inside another actor's context (an eager
# task in a request or a command keeps that request's or command's actor).
_task_tokens = {}


@task_prerun.connect(dispatch_uid="audit.task_actor_enter")
def task_actor_enter(task_id=None, task=None, **kwargs):
    if current_actor() is None and task_id is not None:
        _task_tokens[task_id] = audit_actor_enter(label=task_label(task.name))


@task_postrun.connect(dispatch_uid="audit.task_actor_exit")
def task_actor_exit(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        audit_actor_exit(token)

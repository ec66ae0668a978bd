"""The programs app's own model changes: API key copies kept by web processes go stale."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .keycache import generation_bump_on_commit
from .models import ApiKey, Program


@receiver(post_save, sender=ApiKey, dispatch_uid="programs.api_key_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="programs.api_key_deleted")
@receiver(post_save, sender=Program, dispatch_uid="programs.program_saved")
@receiver(post_delete, sender=Program, dispatch_uid="programs.program_deleted")
def api_key_copies_stale(sender, instance, created=False, **kwargs):
    # A key (revoked, its rate changed, deleted) or its program (a setting, the slug) changed:
    # every web process reads its keys from the database again. A new key was in no copy (its
    # digest, of 32 random bytes, was never sent before, so no process holds it as unknown).
    if not (sender is ApiKey and created):
        generation_bump_on_commit()

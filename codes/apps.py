from django.apps import AppConfig


class CodesConfig(AppConfig):
    name = "codes"
    verbose_name = "Promo codes"

    def ready(self):
        from audit.registry import track

        from . import receivers  # noqa: F401  (connects signal receivers)
        from .models import Batch, Pool

        # Codes themselves are never tracked row by row (a void is one entry: see voiding).
        # A pool's alert flags flip on the hot path; a batch's progress and file are not news.
        track(Pool, exclude_fields=["created_at", "low_alert_armed", "empty_alert_armed"])
        track(
            Batch,
            program=lambda batch: batch.pool.program_id,
            exclude_fields=["created_at", "completed_at", "errors", "progress_rows"],
        )

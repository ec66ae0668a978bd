"""`manage.py check --deploy`: what the production profile needs beyond Django's own checks.

Production is PostgreSQL + Redis + a Celery broker + SMTP, shared by several web and worker
machines (docs/deploy.md). Each warning names the variable that is missing.
"""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def production_services(app_configs, **kwargs):
    if not settings.PRODUCTION:
        return []
    warnings = []
    if settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1] != "postgresql":
        warnings.append(
            Warning(
                "The production profile is not on PostgreSQL: several web and worker machines "
                "cannot share a SQLite file.",
                hint="Set DATABASE_URL=postgres://user:password@host:5432/name.",
                id="ops.W001",
            )
        )
    if not settings.REDIS_URL:
        warnings.append(
            Warning(
                "REDIS_URL is not set: rate limits are counted per process and upload previews "
                "wait on one machine's disk.",
                hint="Set REDIS_URL=redis://host:6379/1.",
                id="ops.W002",
            )
        )
    if not settings.CELERY_BROKER_URL:
        warnings.append(
            Warning(
                "CELERY_BROKER_URL is not set: background work (imports, top-ups, e-mails) runs "
                "inside web requests.",
                hint="Set CELERY_BROKER_URL=redis://host:6379/0 and run a worker and beat.",
                id="ops.W003",
            )
        )
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        warnings.append(
            Warning(
                "EMAIL_HOST is not set: low-stock alerts are written to files on the worker "
                "machine instead of being sent.",
                hint="Set EMAIL_HOST (and EMAIL_HOST_USER, EMAIL_HOST_PASSWORD).",
                id="ops.W004",
            )
        )
    if settings.SITE_URL.startswith(("http://127.0.0.1", "http://localhost")):
        warnings.append(
            Warning(
                f"SITE_URL is {settings.SITE_URL}: links in low-stock e-mails lead nowhere.",
                hint="Set SITE_URL to the address program managers open, e.g. "
                "https://referrals.example.com.",
                id="ops.W005",
            )
        )
    return warnings

"""Celery tasks of the conversions app: thin, each calls a service."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from codes.services import leak_alerts_resend_unsent

from .services import codes_leak_detect

log = logging.getLogger(__name__)

# The orders each run looks back over: four times its schedule (config.settings), so a missed
# run or two loses no code.
LEAK_SCAN_WINDOW = timedelta(minutes=20)


@shared_task(name="conversions.detect_leaked_codes")
def detect_leaked_codes():
    """Periodic: flag the multi-use codes used by more customers in a day than their program
    allows, e-mailed once each; and e-mail again the alerts a broker outage left unsent."""
    flagged = codes_leak_detect(since=timezone.now() - LEAK_SCAN_WINDOW)
    resent = leak_alerts_resend_unsent()
    if flagged or resent:
        log.info("Leaked codes: %s flagged, %s e-mails sent again", len(flagged), resent)
    return len(flagged)

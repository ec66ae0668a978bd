"""Webhook endpoints and their outbox of deliveries (docs/webhooks.md)."""

import base64
import secrets
import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from programs.models import Program

SECRET_PREFIX = "whsec_"
TEST_EVENT = "webhook.test"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Endpoint(models.Model):
    """A URL of the shop that receives a program's events, signed with its secret."""

    program = models.ForeignKey(
        Program,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("program"),
    )
    url = models.URLField(max_length=500, verbose_name=_("URL"))
    # The event types it receives; empty means every type.
    events = models.JSONField(default=list, blank=True, verbose_name=_("events"))
    description = models.CharField(max_length=200, blank=True, verbose_name=_("description"))
    # Shown once, when created or rotated; kept to sign each delivery.
    secret = models.CharField(
        max_length=100, default=new_secret, editable=False, verbose_name=_("secret")
    )
    # After a rotation the old secret signs too (both signatures are sent) until this time.
    previous_secret = models.CharField(
        max_length=100, blank=True, editable=False, verbose_name=_("previous secret")
    )
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("previous secret expires at")
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    include_email = models.BooleanField(
        default=False,
        verbose_name=_("include the advocate's e-mail"),
        help_text=_("Add the advocate's e-mail address to the events about them (personal data)."),
    )
    # Loopback and private addresses accepted, outside production only (--allow-private).
    allow_private = models.BooleanField(
        default=False, editable=False, verbose_name=_("allow private")
    )
    # Since when every attempt has failed (None while it answers); 3 days of it disable it.
    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("failing since")
    )
    disabled_reason = models.CharField(
        max_length=300, blank=True, editable=False, verbose_name=_("disabled reason")
    )
    failure_notified_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("failure notified at")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["program", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        indexes = [models.Index(fields=["program", "enabled"], name="webhook_endpoint_program")]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


def wants_sql(endpoint: str, event_type: str) -> str:
    """`Endpoint.wants` as SQL (PostgreSQL) on the endpoint row aliased `endpoint` and the SQL
    of an event type; tests/webhooks/test_events.py holds the two equal."""
    return f"(jsonb_array_length({endpoint}.events) = 0 OR {endpoint}.events ? {event_type})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class Delivery(models.Model):
    """One event for one endpoint: the outbox row written with the change, then its attempts."""

    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    event_id = models.CharField(
        max_length=40, default=new_event_id, editable=False, verbose_name=_("event id")
    )
    event_type = models.CharField(max_length=40, verbose_name=_("event type"))
    # The body sent, as JSON text (signed byte for byte).
    payload = models.TextField(verbose_name=_("payload"))
    status = models.CharField(
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_try_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next try at"))
    last_status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("last status code")
    )
    last_error = models.CharField(max_length=300, blank=True, verbose_name=_("last error"))
    latency_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("latency ms"))
    created_at = models.DateTimeField(db_index=True, verbose_name=_("created at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once"),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(next_try_at__isnull=True),
                name="webhook_delivery_next_try_only_pending",
            ),
        ]
        indexes = [
            # The sweep: pending rows due to be tried.
            models.Index(
                fields=["next_try_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"

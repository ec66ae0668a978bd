"""Webhook writes: endpoints, the outbox, delivery attempts (docs/webhooks.md)."""

import json
import logging
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from foundation.events import EVENT_TYPES, events_batching, events_listened, listeners_changed
from foundation.tasks import enqueue_on_commit
from programs.models import Program

from .destinations import DestinationRefused, resolve
from .models import TEST_EVENT, Delivery, DeliveryStatus, Endpoint, new_secret, wants_sql
from .sending import Attempt, post, signed_headers

log = logging.getLogger("webhooks")

PAYLOAD_VERSION = 1
ROTATION_OVERLAP = timedelta(hours=24)
GIVE_UP_AFTER = timedelta(days=3)
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT_SECONDS = 6 * 3600
# A batch in progress holds its rows this long per delivery in it (a receiver may take the
# whole timeout each): a worker that dies mid-batch has its rows retried after that.
LEASE_PER_DELIVERY = timedelta(seconds=15)
KEEP_LOG = timedelta(days=30)


def _validate_events(events) -> list[str]:
    events = list(dict.fromkeys(events or []))
    unknown = [name for name in events if name not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            {
                "events": _("Unknown event %(event)s; the events are: %(events)s.")
                % {"event": repr(unknown[0]), "events": ", ".join(EVENT_TYPES)}
            }
        )
    return events


def _validate_url(url: str, *, allow_private: bool) -> str:
    if len(url) > 500:
        raise ValidationError({"url": _("The URL is longer than 500 characters.")})
    try:
        resolve(url, allow_private=allow_private)
    except DestinationRefused as error:
        raise ValidationError({"url": str(error)}) from None
    return url


def endpoint_create(
    *,
    program: Program,
    url: str,
    events=None,
    include_email: bool = False,
    allow_private: bool = False,
    description: str = "",
) -> Endpoint:
    """A new enabled endpoint with a fresh secret (its `secret` is shown to the caller once)."""
    if allow_private and settings.PRODUCTION:
        raise ValidationError(
            {"url": _("Private and loopback addresses are never allowed in production.")}
        )
    endpoint = Endpoint(
        program=program,
        url=_validate_url(url, allow_private=allow_private),
        events=_validate_events(events),
        include_email=include_email,
        allow_private=allow_private,
        description=description,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def endpoint_update(*, endpoint: Endpoint, **changes) -> Endpoint:
    """Change `url`, `events`, `enabled`, `include_email` or `description`. Enabling an
    endpoint that was disabled for failing gives it a fresh start."""
    allowed = {"url", "events", "enabled", "include_email", "description"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"endpoint_update cannot change {sorted(unknown)}")
    if "url" in changes:
        changes["url"] = _validate_url(changes["url"], allow_private=endpoint.allow_private)
    if "events" in changes:
        changes["events"] = _validate_events(changes["events"])
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if changes.get("enabled"):
        endpoint.failing_since = None
        endpoint.failure_notified_at = None
        endpoint.disabled_reason = ""
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def endpoint_rotate_secret(*, endpoint: Endpoint, now: datetime | None = None) -> Endpoint:
    """A new secret; the old one keeps signing beside it for 24 hours (both signatures sent)."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
        endpoint.secret = new_secret()
        endpoint.save()
    return endpoint


def signing_secrets(endpoint: Endpoint, now: datetime) -> list[str]:
    secrets = [endpoint.secret]
    if endpoint.previous_secret and (
        endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(endpoint.previous_secret)
    return secrets


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def event_body(*, type: str, data: dict, now: datetime) -> str:
    """The body of an event: {"type", "timestamp", "data"} with the payload's version in data."""
    return json.dumps(
        {"type": type, "timestamp": now.isoformat(), "data": {"version": PAYLOAD_VERSION, **data}},
        default=_json_default,
        separators=(",", ":"),
    )


def _with_email(body: str, email: str) -> str:
    """`body` (an event_body) with the advocate's e-mail added last to its data: the body is
    built once per event, whatever its endpoints."""
    return body[:-2] + ',"email":' + json.dumps(email) + "}}"


def deliveries_write(*, program_id: int, events: list[tuple[str, dict, str]]) -> list[int]:
    """The outbox writer: one pending delivery per event and subscribed endpoint, written in the
    caller's transaction, sent once it commits (and by the sweep if that send is lost)."""
    return deliveries_write_lazy(
        program_id=program_id, types=tuple(type for type, _, _ in events), build=lambda: events
    )


def deliveries_write_lazy(*, program_id: int, types: tuple[str, ...], build) -> list[int]:
    """deliveries_write of the events `build()` returns, called only when an enabled endpoint of
    the program wants one of `types` (one indexed read when none does)."""
    outbox = _transaction_outbox()
    # Read once per transaction and program: an order's several events cost one lookup.
    enabled = outbox.endpoints.get(program_id) if outbox is not None else None
    if enabled is None and events_listened(program_id) and connection.vendor == "postgresql":
        # A statement of this transaction found an enabled endpoint (foundation.events): write
        # for the endpoints that want each event in one statement, without looking first.
        if events_batching():
            # Held to the end of the block (foundation.events.events_batched), so that all the
            # block's events are written by one statement.
            outbox.held.setdefault(program_id, []).extend(build())
            return []
        ids = _deliveries_insert_select(program_id=program_id, events=build())
        outbox.ids.extend(ids)
        return ids
    if enabled is None:
        enabled = list(
            Endpoint.objects.filter(program_id=program_id, enabled=True).only(
                "pk", "events", "include_email"
            )
        )
        if outbox is not None:
            outbox.endpoints[program_id] = enabled
    endpoints = [e for e in enabled if any(e.wants(type) for type in types)]
    if not endpoints:
        return []
    events = build()
    now = timezone.now()
    rows = []
    for type, data, email in events:
        wanting = [endpoint for endpoint in endpoints if endpoint.wants(type)]
        if not wanting:
            continue
        plain = event_body(type=type, data=data, now=now)
        with_email = _with_email(plain, email) if email else plain
        event_id = Delivery._meta.get_field("event_id").default()
        for endpoint in wanting:
            rows.append(
                Delivery(
                    endpoint_id=endpoint.pk,
                    event_id=event_id,
                    event_type=type,
                    payload=with_email if endpoint.include_email else plain,
                    created_at=now,
                    next_try_at=now,
                )
            )
    if not rows:
        return []
    created = Delivery.objects.bulk_create(rows)
    ids = [row.pk for row in created]
    if ids[0] is None:  # a database that does not return ids from a bulk insert
        ids = list(
            Delivery.objects.filter(event_id__in={row.event_id for row in rows}).values_list(
                "pk", flat=True
            )
        )
    if outbox is not None:
        outbox.ids.extend(ids)
    else:
        from .tasks import deliveries_send

        enqueue_on_commit(deliveries_send, ids)
    return ids


def _deliveries_insert_select(*, program_id: int, events) -> list[int]:
    """The outbox rows of `events` for every enabled endpoint of the program that wants each
    (webhooks.models.wants_sql), in one INSERT … SELECT; PostgreSQL."""
    if not events:
        return []
    now = timezone.now()
    values, params = [], []
    for type, data, email in events:
        plain = event_body(type=type, data=data, now=now)
        values.append("(%s, %s, %s, %s)")
        params += [
            Delivery._meta.get_field("event_id").default(),
            type,
            plain,
            _with_email(plain, email) if email else None,
        ]
    sql = f"""
        INSERT INTO {Delivery._meta.db_table} (
            endpoint_id, event_id, event_type, payload, status, attempts, last_error,
            created_at, next_try_at)
        SELECT e.id, v.event_id, v.event_type,
               CASE WHEN e.include_email THEN coalesce(v.with_email, v.plain) ELSE v.plain END,
               %s, 0, '', %s, %s
          FROM {Endpoint._meta.db_table} e
          JOIN (VALUES {", ".join(values)}) AS v (event_id, event_type, plain, with_email)
            ON {wants_sql("e", "v.event_type")}
         WHERE e.program_id = %s AND e.enabled
        RETURNING id"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [DeliveryStatus.PENDING, now, now, *params, program_id])
        return [row[0] for row in cursor.fetchall()]


class _TransactionOutbox:
    """What one transaction wrote to the outbox: the endpoints read (once per program) and the
    deliveries written, sent by one task once it commits."""

    def __init__(self):
        self.ids: list[int] = []
        self.endpoints: dict[int, list[Endpoint]] = {}
        # Events of an open events_batched block, by program, written when it ends.
        self.held: dict[int, list[tuple[str, dict, str]]] = {}
        self.done = False

    def __call__(self):
        from .tasks import deliveries_send

        self.done = True
        if self.ids:
            enqueue_on_commit(deliveries_send, self.ids)


def deliveries_write_held(*, discard: bool = False) -> list[int]:
    """The end of an events_batched block: write the events held in it, each program's in one
    INSERT … SELECT (or forget them when the block raised)."""
    outbox = _transaction_outbox(create=False)
    if outbox is None or not outbox.held:
        return []
    held, outbox.held = outbox.held, {}
    if discard:
        return []
    ids = []
    for program_id, events in held.items():
        ids += _deliveries_insert_select(program_id=program_id, events=events)
    outbox.ids.extend(ids)
    return ids


def listening_sql(program_id_sql: str) -> str:
    """Whether an enabled endpoint of the program may want an event, as SQL (the probe
    registered with foundation.events: a statement already on an event's path answers it, so a
    program without endpoints costs its events no read)."""
    table = Endpoint._meta.db_table
    return f"EXISTS (SELECT 1 FROM {table} WHERE program_id = {program_id_sql} AND enabled)"


def endpoints_changed() -> None:
    """An endpoint was saved or deleted: the current transaction reads the endpoints again."""
    listeners_changed()
    connection = transaction.get_connection()
    for _sid, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _TransactionOutbox):
            callback.endpoints.clear()


def _transaction_outbox(create: bool = True) -> _TransactionOutbox | None:
    """The current transaction's outbox (None outside a transaction, or if none yet and not
    `create`)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    for _sid, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _TransactionOutbox) and not callback.done:
            return callback
    if not create:
        return None
    outbox = _TransactionOutbox()
    transaction.on_commit(outbox)
    return outbox


def endpoint_send_test(*, endpoint: Endpoint) -> Delivery:
    """A `webhook.test` event for this endpoint alone, sent at once (and retried like any)."""
    now = timezone.now()
    data = {"program_id": endpoint.program_id, "endpoint_id": endpoint.pk}
    with transaction.atomic():
        delivery = Delivery.objects.create(
            endpoint=endpoint,
            event_type=TEST_EVENT,
            payload=event_body(type=TEST_EVENT, data=data, now=now),
            created_at=now,
            next_try_at=now,
        )
        from .tasks import deliveries_send

        enqueue_on_commit(deliveries_send, [delivery.pk])
    return delivery


def deliveries_redeliver(*, deliveries) -> int:
    """Send these deliveries again (same event id and body), whatever became of them."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(deliveries.values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.PENDING,
            next_try_at=now,
            created_at=now,
            delivered_at=None,
        )
        from .tasks import deliveries_send

        enqueue_on_commit(deliveries_send, ids)
    return len(ids)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off with jitter: 30 s, 1 min, 2 min, … up to 6 hours, each between half
    and all of that (so a thousand retries do not arrive together)."""
    ceiling = min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LONGEST_WAIT_SECONDS)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> Attempt | None:
    """One attempt at a due delivery: None when it is not due, taken by another worker, or its
    endpoint is disabled. `now` is for the tests: the attempt's clock."""
    return deliveries_attempt(delivery_ids=[delivery_id], now=now).get(delivery_id)


def deliveries_attempt(
    *, delivery_ids: list[int], now: datetime | None = None
) -> dict[int, Attempt]:
    """One attempt at each of these deliveries that is due and whose endpoint is enabled;
    returns the attempts by delivery id (those not due, held by another worker or of a disabled
    endpoint are left alone). The rows are leased first (their next try pushed ahead by
    LEASE_PER_DELIVERY per row, in a short transaction), then sent with no transaction open,
    then their outcome written: delivered ones in one statement. An endpoint that gave no
    answer is not tried again in this batch."""
    clock = (lambda: now) if now else timezone.now
    now = clock()
    with transaction.atomic():
        due = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(
                pk__in=delivery_ids,
                status=DeliveryStatus.PENDING,
                next_try_at__lte=now,
                endpoint__enabled=True,
            )
            .order_by("pk")
        )
        Delivery.objects.filter(pk__in=[delivery.pk for delivery in due]).update(
            next_try_at=now + LEASE_PER_DELIVERY * max(len(due), 4)
        )
    attempts: dict[int, Attempt] = {}
    delivered = []
    silent = {}  # endpoint id -> the attempt that got no answer
    recovered = set()
    for delivery in due:
        endpoint = delivery.endpoint
        attempt = silent.get(endpoint.pk)
        if attempt is None:
            sent_at = clock()
            attempt = post(
                url=endpoint.url,
                headers=signed_headers(
                    secrets=signing_secrets(endpoint, sent_at),
                    event_id=delivery.event_id,
                    timestamp=sent_at,
                    body=delivery.payload,
                ),
                body=delivery.payload,
                allow_private=endpoint.allow_private,
            )
            if attempt.status_code is None:
                silent[endpoint.pk] = attempt
        attempts[delivery.pk] = attempt
        if attempt.delivered:
            delivery.attempts += 1
            delivery.status = DeliveryStatus.DELIVERED
            delivery.next_try_at = None
            delivery.delivered_at = clock()
            delivery.last_status_code = attempt.status_code
            delivery.last_error = ""
            delivery.latency_ms = attempt.latency_ms
            delivered.append(delivery)
            if endpoint.failing_since is not None:
                recovered.add(endpoint.pk)
        else:
            _record_failure(delivery, endpoint, attempt, clock())
    if delivered:
        Delivery.objects.bulk_update(
            delivered,
            [
                "attempts",
                "status",
                "next_try_at",
                "delivered_at",
                "last_status_code",
                "last_error",
                "latency_ms",
            ],
        )
    if recovered:
        Endpoint.objects.filter(pk__in=recovered).update(
            failing_since=None, failure_notified_at=None
        )
    return attempts


def _record_failure(
    delivery: Delivery, endpoint: Endpoint, attempt: Attempt, now: datetime
) -> None:
    """A failed attempt: retried after the back-off, or given up on after 3 days."""
    result = {
        "attempts": F("attempts") + 1,
        "last_status_code": attempt.status_code,
        "last_error": attempt.error[:300],
        "latency_ms": attempt.latency_ms,
    }
    log.warning(
        "Webhook %s to endpoint %s failed (attempt %s): %s",
        delivery.event_id,
        endpoint.pk,
        delivery.attempts + 1,
        attempt.error,
    )
    if now - delivery.created_at >= GIVE_UP_AFTER:
        Delivery.objects.filter(pk=delivery.pk).update(
            **result, status=DeliveryStatus.FAILED, next_try_at=None
        )
    else:
        Delivery.objects.filter(pk=delivery.pk).update(
            **result, next_try_at=now + retry_delay(delivery.attempts + 1)
        )
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    _endpoint_check_failing(endpoint_id=endpoint.pk, now=now)


def _endpoint_check_failing(*, endpoint_id: int, now: datetime) -> None:
    """An endpoint failing for 3 days is disabled; deliveries given up on after 3 days are
    told to the program's recipients, once per failing spell (that e-mail is the same)."""
    with transaction.atomic():
        endpoint = (
            Endpoint.objects.select_for_update().select_related("program").get(pk=endpoint_id)
        )
        if endpoint.failure_notified_at is not None:
            return
        dead_for_long = (
            endpoint.enabled
            and endpoint.failing_since is not None
            and now - endpoint.failing_since >= GIVE_UP_AFTER
        )
        # Events given up on lately (created up to 3 days before the spell began).
        failed = endpoint.deliveries.filter(
            status=DeliveryStatus.FAILED, created_at__gte=now - 2 * GIVE_UP_AFTER
        ).count()
        if not dead_for_long and not failed:
            return
        if dead_for_long:
            endpoint.enabled = False
            endpoint.disabled_reason = (
                f"Every delivery failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC."
            )
        endpoint.failure_notified_at = now
        endpoint.save()
        transaction.on_commit(lambda: _email_failing(endpoint, failed, disabled=dead_for_long))


def _recipients(program: Program) -> list[str]:
    managers = program.managers.exclude(email="").values_list("email", flat=True)
    return list(dict.fromkeys([*program.recipient_list, *managers]))


def _email_failing(endpoint: Endpoint, failed: int, *, disabled: bool) -> None:
    recipients = _recipients(endpoint.program)
    if not recipients:
        log.warning("Webhook endpoint %s is failing; the program has no recipients.", endpoint.pk)
        return
    what = "disabled" if disabled else "failing"
    subject = f"[{endpoint.program.name}] Webhook endpoint {what}: {endpoint.url}"
    lines = [
        f"The webhook endpoint {endpoint.url} of {endpoint.program.name} has not accepted an "
        f"event since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC.",
        f"{failed} event(s) were given up on after 3 days of retries."
        if failed
        else "No event was given up on yet.",
    ]
    if disabled:
        lines.append(
            "The endpoint is now disabled: no new events are written for it. Fix the receiver, "
            "enable the endpoint again in the console and redeliver the failed events from its "
            "delivery log."
        )
    send_mail(subject, "\n\n".join(lines), settings.DEFAULT_FROM_EMAIL, recipients)


def deliveries_sweep(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Due pending deliveries of enabled endpoints (those whose send was lost with the broker,
    and the retries); deliveries pending past 3 days are given up on."""
    now = now or timezone.now()
    stale = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, created_at__lte=now - GIVE_UP_AFTER
    ).filter(Q(endpoint__enabled=False) | Q(attempts__gt=0))
    stale.update(status=DeliveryStatus.FAILED, next_try_at=None)
    return list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_try_at__lte=now, endpoint__enabled=True
        )
        .order_by("next_try_at")
        .values_list("pk", flat=True)[:limit]
    )


def deliveries_prune(*, now: datetime | None = None) -> int:
    """Delete the delivery log older than 30 days (delivered and failed rows)."""
    now = now or timezone.now()
    deleted, _ = Delivery.objects.filter(
        created_at__lt=now - KEEP_LOG, status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
    ).delete()
    return deleted

"""Server API: a program's webhook endpoints (docs/webhooks.md)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from foundation.api_docs import AUTH_ERRORS, BODY_ERRORS, not_found
from foundation.events import EVENT_TYPES
from programs.api import BoundedJSONParser, ProgramAPIView

from .models import Endpoint
from .services import (
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
)


def events_field():
    return serializers.ListField(
        child=serializers.ChoiceField(choices=[(name, name) for name in EVENT_TYPES]),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="The events to send; none (or an empty list): every event.",
    )


class EndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(
        child=serializers.CharField(), help_text="The events it receives; empty: every event."
    )
    enabled = serializers.BooleanField()
    include_email = serializers.BooleanField(
        help_text="The advocate's e-mail address is added to the events about them."
    )
    description = serializers.CharField(allow_blank=True)
    disabled_reason = serializers.CharField(
        allow_blank=True, help_text="Why it was disabled for failing (blank otherwise)."
    )
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="Since when every attempt failed; null while it answers."
    )
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until when the secret before the last rotation also signs."
    )
    created_at = serializers.DateTimeField()


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (Standard Webhooks, `whsec_` and base64): shown only in "
        "this answer."
    )


class EndpointListSerializer(serializers.Serializer):
    results = EndpointSerializer(many=True)


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = events_field()
    include_email = serializers.BooleanField(required=False, default=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)


class EndpointChangeSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    events = events_field()
    enabled = serializers.BooleanField(required=False)
    include_email = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)


class TestEventSerializer(serializers.Serializer):
    event_id = serializers.CharField(help_text="The test event's `webhook-id`.")


EXAMPLE = {
    "id": 3,
    "url": "https://shop.example.com/hooks/referrals",
    "events": ["referral.converted", "reward.available"],
    "enabled": True,
    "include_email": False,
    "description": "CRM",
    "disabled_reason": "",
    "failing_since": None,
    "previous_secret_expires_at": None,
    "created_at": "2026-12-01T10:00:00Z",
}
SECRET_EXAMPLE = {**EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}


def _body(endpoint, *, secret=False):
    data = EndpointSerializer(endpoint).data
    if secret:
        data["secret"] = endpoint.secret
    return data


def _refusal(error: DjangoValidationError):
    return ValidationError(error.message_dict if hasattr(error, "message_dict") else error.messages)


class EndpointsView(ProgramAPIView):
    # JSON only: an endpoint's `events` is a list, which a form cannot carry unambiguously.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="webhooks_list",
        summary="The program's webhook endpoints",
        responses={200: EndpointListSerializer, **AUTH_ERRORS},
        examples=[OpenApiExample("Endpoints", response_only=True, value={"results": [EXAMPLE]})],
    )
    def get(self, request, program):
        endpoints = Endpoint.objects.filter(program=self.program).order_by("pk")
        return Response({"results": [_body(endpoint) for endpoint in endpoints]})

    @extend_schema(
        operation_id="webhooks_create",
        summary="Add a webhook endpoint",
        description=(
            "Answers the endpoint with its signing `secret`, shown this once. In production the "
            "URL must resolve to public addresses only (loopback, private, link-local and "
            "metadata addresses are refused, naming the address)."
        ),
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer, **BODY_ERRORS, **AUTH_ERRORS},
        examples=[
            OpenApiExample(
                "Endpoint",
                request_only=True,
                value={"url": EXAMPLE["url"], "events": EXAMPLE["events"]},
            ),
            OpenApiExample("Created", response_only=True, value=SECRET_EXAMPLE),
        ],
    )
    def post(self, request, program):
        serializer = EndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint = endpoint_create(program=self.program, **serializer.validated_data)
        except DjangoValidationError as error:
            raise _refusal(error) from None
        return Response(_body(endpoint, secret=True), status=201)


class _OneEndpoint:
    def endpoint(self, endpoint_id):
        found = Endpoint.objects.filter(program=self.program, pk=endpoint_id).first()
        if found is None:
            raise NotFound(f"No webhook endpoint {endpoint_id} in this program.")
        return found


class EndpointView(_OneEndpoint, ProgramAPIView):
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="webhook_get",
        summary="A webhook endpoint",
        responses={200: EndpointSerializer, **AUTH_ERRORS, **not_found("webhook endpoint")},
        examples=[OpenApiExample("Endpoint", response_only=True, value=EXAMPLE)],
    )
    def get(self, request, program, endpoint_id):
        return Response(_body(self.endpoint(endpoint_id)))

    @extend_schema(
        operation_id="webhook_update",
        summary="Change a webhook endpoint",
        description="Enabling an endpoint disabled for failing gives it a fresh start.",
        request=EndpointChangeSerializer,
        responses={
            200: EndpointSerializer,
            **BODY_ERRORS,
            **AUTH_ERRORS,
            **not_found("webhook endpoint"),
        },
        examples=[
            OpenApiExample("Disable", request_only=True, value={"enabled": False}),
            OpenApiExample("Endpoint", response_only=True, value={**EXAMPLE, "enabled": False}),
        ],
    )
    def patch(self, request, program, endpoint_id):
        serializer = EndpointChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            endpoint = self.endpoint(endpoint_id)
            try:
                endpoint = endpoint_update(endpoint=endpoint, **serializer.validated_data)
            except DjangoValidationError as error:
                raise _refusal(error) from None
        return Response(_body(endpoint))

    @extend_schema(
        operation_id="webhook_delete",
        summary="Remove a webhook endpoint (and its delivery log)",
        responses={204: None, **AUTH_ERRORS, **not_found("webhook endpoint")},
    )
    def delete(self, request, program, endpoint_id):
        self.endpoint(endpoint_id).delete()
        return Response(status=204)


class EndpointSecretView(_OneEndpoint, ProgramAPIView):
    @extend_schema(
        operation_id="webhook_rotate_secret",
        summary="Rotate a webhook endpoint's secret",
        description=(
            "A new secret, answered this once; for 24 hours every delivery is signed with the "
            "old and the new secret (two signatures in `webhook-signature`)."
        ),
        request=None,
        responses={
            200: EndpointWithSecretSerializer,
            **AUTH_ERRORS,
            **not_found("webhook endpoint"),
        },
        examples=[OpenApiExample("Rotated", response_only=True, value=SECRET_EXAMPLE)],
    )
    def post(self, request, program, endpoint_id):
        endpoint = endpoint_rotate_secret(endpoint=self.endpoint(endpoint_id))
        return Response(_body(endpoint, secret=True))


class EndpointTestView(_OneEndpoint, ProgramAPIView):
    @extend_schema(
        operation_id="webhook_send_test",
        summary="Send a `webhook.test` event to the endpoint",
        description="Sent at once (and retried like any event); see its fate in the console's "
        "delivery log.",
        request=None,
        responses={202: TestEventSerializer, **AUTH_ERRORS, **not_found("webhook endpoint")},
        examples=[
            OpenApiExample(
                "Sent", response_only=True, value={"event_id": "msg_2f1c0c3b9d5a4e0c8d6b"}
            )
        ],
    )
    def post(self, request, program, endpoint_id):
        delivery = endpoint_send_test(endpoint=self.endpoint(endpoint_id))
        return Response({"event_id": delivery.event_id}, status=202)

"""The business events of the codes app (foundation.events; payloads in docs/webhooks.md)."""

from foundation.events import (
    CODE_ASSIGNED,
    CODE_EXPIRED,
    STOCK_EMPTY,
    STOCK_LOW,
    event_emit,
    events_emit,
)

from .models import AlertKind, CodeState, PromoCode


def codes_assigned_emit(
    *,
    program_id: int,
    holder_id: int,
    claimed: int,
    assigned: tuple[list[tuple[int, str]], str, str] | None = None,
) -> None:
    """code.assigned for each of the `claimed` codes a top-up just gave the holder; `assigned`
    is what the top-up answered of them ((id, code) in claim order, the holder's participant
    id and e-mail), read here when it did not."""
    if not claimed:
        return

    def build():
        if assigned is not None:
            codes, participant_id, email = assigned
            return [
                (
                    CODE_ASSIGNED,
                    {"code_id": pk, "code": code, "participant_id": participant_id},
                    email,
                )
                for pk, code in codes
            ]
        codes = (
            PromoCode.objects.filter(CodeState.HELD, holder_id=holder_id)
            .order_by("-assigned_at", "-id")
            .values("pk", "code", "holder__participant_id", "holder__email")[:claimed]
        )
        return [
            (
                CODE_ASSIGNED,
                {
                    "code_id": code["pk"],
                    "code": code["code"],
                    "participant_id": code["holder__participant_id"],
                },
                code["holder__email"],
            )
            for code in reversed(codes)
        ]

    events_emit(program_id=program_id, types=(CODE_ASSIGNED,), build=build)


def codes_expired_emit(*, codes: list[tuple[int, int]]) -> None:
    """code.expired for each of these codes, (id, program id) just claimed by
    codes_expired_announce; one announcement per program, read only if an endpoint wants it.
    No personal data: the holder by their participant id only."""
    programs: dict[int, list[int]] = {}
    for pk, program_id in codes:
        programs.setdefault(program_id, []).append(pk)
    for program_id, ids in programs.items():

        def build(ids=ids, program_id=program_id):
            theirs = (
                PromoCode.objects.filter(pk__in=ids)
                .order_by("expires_at", "id")
                .values(
                    "pk", "code", "pool_id", "pool__name", "holder__participant_id", "expires_at"
                )
            )
            return [
                (
                    CODE_EXPIRED,
                    {
                        "code_id": code["pk"],
                        "code": code["code"],
                        "program_id": program_id,
                        "pool_id": code["pool_id"],
                        "pool": code["pool__name"],
                        "participant_id": code["holder__participant_id"],
                        "expires_at": code["expires_at"],
                    },
                    "",
                )
                for code in theirs
            ]

        events_emit(program_id=program_id, types=(CODE_EXPIRED,), build=build)


def stock_alert_emit(alert) -> None:
    """stock.low or stock.empty, as the alert recorded it."""
    event_emit(
        program_id=alert.pool.program_id,
        type=STOCK_EMPTY if alert.kind == AlertKind.EMPTY else STOCK_LOW,
        data={
            "pool_id": alert.pool_id,
            "pool": alert.pool.name,
            "available": alert.available,
            "threshold": alert.threshold,
        },
    )

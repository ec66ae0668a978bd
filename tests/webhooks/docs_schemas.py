"""The JSON schemas docs/webhooks.md gives for the events, read from the page itself, so a test
holds every event sent to what the page promises a receiver."""

import json
import re
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

PAGE = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


@cache
def _schemas():
    text = PAGE.read_text()
    section = text[text.index("### JSON schemas") :]
    body, per_type = [
        json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)
    ][:2]
    return body, per_type


def assert_documented(event: dict) -> None:
    """`event` (a received body, parsed) is valid under the page's schema of the body and of
    its type's `data`."""
    body, per_type = _schemas()
    Draft202012Validator(body).validate(event)
    kind = event["type"]
    schema = per_type["reward.*" if kind.startswith("reward.") else kind]
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        event["data"]
    )


def documented_types() -> set[str]:
    """The event types the page gives a schema of (`reward.*` read as the four reward events)."""
    names = set(_schemas()[1]) - {"reward.*"}
    return names | {f"reward.{name}" for name in ("created", "available", "paid", "cancelled")}

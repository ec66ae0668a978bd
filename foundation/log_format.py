"""LOG_FORMAT=json: one JSON object a line, for Django, Celery and gunicorn alike.

Every line has time (UTC, ISO 8601), level, logger and message; an exception adds exc_info.
A Django request record carries method and path (never headers or the query string); a
gunicorn access record carries remote_addr, method, path, status, duration_ms, bytes and
user_agent (never headers or the query string: tokens and keys must not reach the logs). A
participant id in a path is written as an opaque reference (foundation.access_log).
"""

from datetime import UTC, datetime

from django.http import HttpRequest
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from .access_log import opaque_paths

ACCESS_FIELDS = {"h": "remote_addr", "m": "method", "U": "path", "s": "status", "B": "bytes"}


class JsonFormatter(BaseJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        log_record["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat()
        request = log_record.pop("request", None)
        if isinstance(request, HttpRequest):
            log_record["method"] = request.method
            log_record["path"] = opaque_paths(request.path)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            for atom, field in ACCESS_FIELDS.items():
                log_record[field] = atoms.get(atom)
            log_record["duration_ms"] = round(atoms.get("D", 0) / 1000, 3)
            log_record["user_agent"] = atoms.get("a")

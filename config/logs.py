"""Logs that can be followed across processes: a request id on every line, JSON on demand.

- Every request gets an id (`RequestIdMiddleware`): the proxy's `X-Request-ID` when the site is
  behind one (BEHIND_PROXY) and the value is a plausible id, else a new one. It is sent back in
  the response's `X-Request-ID` and put on every log record made while the request runs.
- A Celery task enqueued during a request carries the id in its message headers and logs under
  it in the worker (the emails it sends included); a task enqueued by another task passes it
  on; beat's tasks have none ("-").
- `LOG_FORMAT=json` writes one JSON object per line (python-json-logger): time, level, logger,
  message, request_id, and the traceback when there is one. The default is plain text.

The id lives in a context variable, so threads and the eager tasks of `make run` (run in the
request's own thread) see the right one.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.conf import settings

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

HEADER = "X-Request-ID"
_PLAUSIBLE = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # what a proxy's id looks like, and no more

_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    record = _factory(*args, **kwargs)
    record.request_id = request_id.get()
    return record


logging.setLogRecordFactory(_record_with_request_id)


def new_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(HEADER, "") if settings.BEHIND_PROXY else ""
        value = given if _PLAUSIBLE.fullmatch(given) else new_id()
        request.request_id = value
        token = request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[HEADER] = value
        return response


# --- Celery: the id travels in the task's headers ---------------------------------------


@before_task_publish.connect
def _send_request_id(headers=None, **kwargs) -> None:
    if headers is not None and request_id.get() != "-":
        headers.setdefault("request_id", request_id.get())


_task_tokens: dict[str, contextvars.Token] = {}


@task_prerun.connect
def _receive_request_id(task_id=None, task=None, **kwargs) -> None:
    value = getattr(task.request, "request_id", None) if task is not None else None
    if value and _PLAUSIBLE.fullmatch(str(value)) and task_id:
        _task_tokens[task_id] = request_id.set(str(value))


@task_postrun.connect
def _forget_request_id(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id.reset(token)


def formatter_config(kind: str) -> dict:
    """The LOGGING "formatters" entry for LOG_FORMAT (json, or text)."""
    if kind == "json":
        return {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    return {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}

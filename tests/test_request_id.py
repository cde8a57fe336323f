"""A request id on every log line: the response's X-Request-ID, the worker's task logs, JSON."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from types import SimpleNamespace
from unittest import mock

import pytest
from django.test import Client

from config import logs


@pytest.mark.django_db
def test_each_response_names_its_request():
    first, second = Client().get("/healthz"), Client().get("/")

    assert "X-Request-ID" not in first  # probes are answered before ids are given
    assert re.fullmatch(r"[0-9a-f]{32}", second["X-Request-ID"])
    assert Client().get("/")["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
def test_what_is_logged_during_a_request_carries_its_id(caplog):
    client = Client(raise_request_exception=False)
    with mock.patch("forum.selectors.list_columns", side_effect=RuntimeError("boom")):
        response = client.get("/")

    errors = [r for r in caplog.records if r.name == "django.request"]
    assert errors and {r.request_id for r in errors} == {response["X-Request-ID"]}
    assert logging.makeLogRecord({}).request_id == "-"  # outside any request


@pytest.mark.parametrize(
    ("behind_proxy", "given", "kept"),
    [
        (True, "lb-7f3a.19:ab_CD", True),
        (True, "x" * 65, False),  # longer than any id
        (True, "abc\r\nSet-Cookie: a=b", False),
        (True, "<script>", False),
        (False, "lb-7f3a", False),  # only a proxy we sit behind may name the request
    ],
)
@pytest.mark.django_db
def test_a_proxys_request_id_is_kept_only_when_plausible(settings, behind_proxy, given, kept):
    settings.BEHIND_PROXY = behind_proxy

    response = Client().get("/", HTTP_X_REQUEST_ID=given)

    if kept:
        assert response["X-Request-ID"] == given
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_a_task_carries_the_id_of_the_request_that_enqueued_it():
    # What Celery does with a task: headers made at publish, the worker's prerun and postrun.
    headers = {}
    token = logs.request_id.set("req-42")
    try:
        logs._send_request_id(headers=headers)
    finally:
        logs.request_id.reset(token)
    assert headers == {"request_id": "req-42"}

    task = SimpleNamespace(request=SimpleNamespace(request_id="req-42"))
    logs._receive_request_id(task_id="t1", task=task)
    assert logging.makeLogRecord({}).request_id == "req-42"  # the task's log lines
    logs._forget_request_id(task_id="t1")
    assert logs.request_id.get() == "-"


def test_a_task_from_outside_a_request_or_with_a_forged_id_has_none():
    headers = {}
    logs._send_request_id(headers=headers)
    assert headers == {}
    task = SimpleNamespace(request=SimpleNamespace(request_id="a\nb"))
    logs._receive_request_id(task_id="t2", task=task)
    assert logs.request_id.get() == "-"
    logs._forget_request_id(task_id="t2")


def test_json_lines_name_the_time_level_logger_message_and_request():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter = logging.config.DictConfigurator({}).configure_formatter(
        logs.formatter_config("json")
    )
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.json")
    logger.addHandler(handler)
    token = logs.request_id.set("req-7")
    try:
        try:
            raise ValueError("bad")
        except ValueError:
            logger.exception("it broke: %s", "here")
    finally:
        logs.request_id.reset(token)
        logger.removeHandler(handler)

    line = json.loads(stream.getvalue())
    assert {k: line[k] for k in ("level", "logger", "message", "request_id")} == {
        "level": "ERROR",
        "logger": "tests.json",
        "message": "it broke: here",
        "request_id": "req-7",
    }
    assert "time" in line and "ValueError: bad" in line["exc_info"]

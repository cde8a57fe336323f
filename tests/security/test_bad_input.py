"""Hostile input, per endpoint (tests/security/bad_inputs.py): a clear 4xx, nothing written.

Every endpoint that takes a form gets every hostile body, as the persona allowed to use it (so
the refusal is the input's, not the persona's); pages that read their query string get query
strings no browser sends; the upload forms get bombs. A worker process runs the same table and
its peak memory is bounded (test_bad_input_memory.py).
"""

from __future__ import annotations

import pytest

from forum.models import Comment
from tests.security.authorization import build_world, outcome, send_as, url_for
from tests.security.bad_inputs import (
    BODY_INPUTS,
    ENDPOINTS,
    MULTIPART_ENDPOINTS,
    MULTIPART_INPUTS,
    QUERY_INPUTS,
    body_request,
    bomb_requests,
    expected_status,
    multipart_request,
    query_request,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("endpoint", "persona", "field", "base"),
    [pytest.param(*row, id=row[0]) for row in ENDPOINTS],
)
@pytest.mark.parametrize("case", BODY_INPUTS, ids=lambda case: case.name)
def test_a_hostile_body_is_refused_and_writes_nothing(endpoint, persona, field, base, case):
    world = build_world()

    response, wrote = send_as(world, persona, body_request(world, endpoint, case, base, field))

    assert outcome(response) == expected_status(endpoint, case)
    if case.message:
        assert case.message in response.text
    assert not wrote


@pytest.mark.parametrize(
    ("endpoint", "persona", "field", "base"),
    [pytest.param(*row, id=row[0]) for row in MULTIPART_ENDPOINTS],
)
@pytest.mark.parametrize(
    ("name", "raw_value"), MULTIPART_INPUTS, ids=[name for name, _ in MULTIPART_INPUTS]
)
def test_a_multipart_field_that_is_not_text_is_refused(
    endpoint, persona, field, base, name, raw_value
):
    world = build_world()

    response, wrote = send_as(
        world, persona, multipart_request(world, endpoint, base, field, raw_value)
    )

    assert response.status_code == 400, name
    assert "not text" in response.text
    assert not wrote


@pytest.mark.parametrize(("endpoint", "persona"), [row[:2] for row in MULTIPART_ENDPOINTS])
def test_a_multipart_field_that_is_text_gets_through(endpoint, persona):
    # The same hand-made body with text in the field reaches the form (which then asks for
    # what is missing, or saves): the 400 above is the bytes'.
    world = build_world()
    row = next(row for row in MULTIPART_ENDPOINTS if row[0] == endpoint)
    send = multipart_request(world, endpoint, row[3], row[2], "你好".encode())

    response, _wrote = send_as(world, persona, send)

    assert "not text" not in response.text
    expected = {"accounts:settings": 302, "admin:forum_importjob_add": 400}  # the zip is missing
    assert response.status_code == expected[endpoint]


@pytest.mark.parametrize(("endpoint", "persona", "query"), QUERY_INPUTS)
def test_a_query_string_no_browser_sends_is_a_400(endpoint, persona, query):
    world = build_world()

    response, wrote = send_as(world, persona, query_request(world, endpoint, query))

    assert response.status_code == 400
    assert not wrote


@pytest.mark.parametrize("index", [0, 1])
def test_a_bomb_is_refused_before_it_is_decoded(index):
    world = build_world()
    name, persona, send, message = bomb_requests(world)[index]

    response, wrote = send_as(world, persona, send)

    assert response.status_code == 400, name
    assert message in response.text
    assert not wrote


@pytest.mark.parametrize(
    "endpoint", ["forum:comment-create", "forum:comment-reply", "forum:comment-edit"]
)
def test_markdown_nested_thousands_deep_is_kept_but_rendered_at_most_20_deep(endpoint):
    # Legal text (9,001 characters), so it is posted; the renderer stops nesting at 20 levels,
    # so the page it lands on stays small and quick to draw.
    world = build_world()
    url = url_for(endpoint, world)
    body = ">" * 9000 + "x"

    def send(client):
        response = client.post(url, {"body": body})
        latest = Comment.objects.filter(body_md=body).get()
        return response, latest.body_html

    (response, html), _wrote = send_as(world, "reader", send)

    assert response.status_code == 302
    assert html.count("<blockquote>") == 20
    assert len(html) < 20_000

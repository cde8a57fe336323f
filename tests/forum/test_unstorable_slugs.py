"""A slug no row can hold (NUL, longer than the column) is a plain 404, on both databases.

PostgreSQL refuses a NUL in a text parameter with an error: before the fix `/columns/%00/`
answered 500 there. Run on PostgreSQL by `make test`, on SQLite by `make test-sqlite`.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

BAD = {"nul": "%00", "nul-inside": "deep%00k8s", "too-long": "a" * 201, "broken-utf8": "%ED%A0%80"}


@pytest.mark.parametrize("persona", ["anonymous", "reader"])
@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize(
    ("method", "pattern"),
    [
        ("get", "/columns/{bad}/"),
        ("get", "/columns/{bad}/why-pods/"),
        ("get", "/columns/deep-k8s/{bad}/"),
        ("post", "/columns/{bad}/why-pods/comments/"),
        ("post", "/columns/deep-k8s/{bad}/comments/"),
        ("post", "/columns/deep-k8s/{bad}/like/"),
    ],
)
def test_a_slug_no_row_can_hold_is_a_404(client_for, article, persona, bad, method, pattern):
    response = getattr(client_for(persona), method)(pattern.format(bad=bad), {"body": "hi"})

    assert response.status_code == 404


@pytest.mark.parametrize("field", ["column", "article"])
def test_the_preview_page_refuses_an_overlong_slug_in_its_chapter_fields_with_a_404(
    reader_client, article, field
):
    data = {"body": "hi", "column": "deep-k8s", "article": "why-pods", field: "a" * 201}

    response = reader_client.post("/comments/preview/", data)

    assert response.status_code == 404


@pytest.mark.parametrize("field", ["column", "article"])
def test_a_nul_in_the_preview_pages_chapter_fields_is_refused_before_the_view(
    reader_client, article, field
):
    # A NUL in any form field is not text: the 400 of config.middleware.MalformedInputMiddleware.
    data = {"body": "hi", "column": "deep-k8s", "article": "why-pods", field: "why\x00pods"}

    response = reader_client.post("/comments/preview/", data)

    assert response.status_code == 400
    assert "not text" in response.text


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize(
    "pattern",
    ["/follow/column/{bad}/", "/follow/article/{bad}/why-pods/", "/follow/article/deep-k8s/{bad}/"],
)
def test_following_a_slug_no_row_can_hold_is_a_404(reader_client, article, bad, pattern):
    assert reader_client.post(pattern.format(bad=bad)).status_code == 404

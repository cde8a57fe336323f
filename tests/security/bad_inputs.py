"""The bad-input table: hostile bodies and query strings, per endpoint, and what each must get.

Shared by the in-process tests (status, message, nothing written) and by the worker run that
measures peak memory (bad_input_worker.py), so both send exactly the same requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.helpers import png_bomb, zip_bomb
from tests.security.authorization import World, url_for

MB = 1024 * 1024
FORM = "application/x-www-form-urlencoded"

# (endpoint, persona allowed to use it, the field the hostile value goes in, the other fields).
# Each persona is one the authorization matrix lets through, so a refusal here is the input's.
ENDPOINTS = [
    ("forum:comment-create", "reader", "body", {}),
    ("forum:comment-reply", "reader", "body", {}),
    ("forum:comment-edit", "reader", "body", {}),
    ("forum:comment-preview", "reader", "body", {"column": "deep-k8s", "article": "why-pods"}),
    ("forum:comment-feature", "author", "featured", {}),
    ("moderation:report", "author", "text", {"reason": "spam"}),
    ("moderation:hide", "author", "reason", {}),
    ("moderation:restore", "author", "reason", {}),
    ("accounts:settings", "reader", "bio", {"display_name": "reader"}),
    ("notifications:settings", "reader", "reply", {}),
    ("account_signup", "anonymous", "email", {"password1": "x" * 12, "display_name": "newbie"}),
    ("account_login", "anonymous", "login", {"password": "wrong-password"}),
    ("account_reset_password", "anonymous", "email", {}),
    ("set_language", "reader", "language", {"next": "/"}),
    ("admin:moderation_queue_act", "moderator", "reason", {}),
    ("admin:forum_column_add", "superuser", "title", {"slug": "new", "description": ""}),
]


def _form(base: dict, field: str, raw_value: bytes) -> bytes:
    """A urlencoded body: the base fields encoded properly, the hostile field as raw bytes."""
    encoded = urlencode(base).encode()
    return (encoded + b"&" if encoded else b"") + field.encode() + b"=" + raw_value


@dataclass(frozen=True)
class BodyInput:
    name: str
    body: object  # (base fields, field) → bytes
    message: str  # what the 400 page says ("" when only the status is asserted)


BODY_INPUTS = [
    BodyInput("NUL in a field", lambda b, f: _form(b, f, b"a%00b"), "not text"),
    BodyInput("invalid UTF-8, percent-encoded", lambda b, f: _form(b, f, b"%FF%FEhi"), "not text"),
    BodyInput("invalid UTF-8, raw bytes", lambda b, f: _form(b, f, b"\xff\xfehi"), "not text"),
    BodyInput("a 3 MB body", lambda b, f: _form(b, f, b"a" * (3 * MB)), "could not be understood"),
    BodyInput(
        "2,000 fields",
        lambda b, f: _form(b, f, b"x") + b"".join(b"&f%d=1" % i for i in range(2000)),
        "could not be understood",
    ),
    BodyInput("a 100,000-character value", lambda b, f: _form(b, f, b"a" * 100_000), ""),
]

# What a 100,000-character value gets where it is not 400: set_language ignores a language it
# doesn't know and goes back (302); the queue says the reason is too long on the page it goes
# back to (302). allauth's and the admin's forms answer 400 with the error like ours
# (config.middleware.RefusedFormMiddleware).
OVERLONG = {
    "set_language": "302",
    "admin:moderation_queue_act": "302",
}


def expected_status(endpoint: str, case: BodyInput) -> str:
    if case.name == "a 100,000-character value":
        return OVERLONG.get(endpoint, "400")
    return "400"


# The two multipart forms (a file and text fields): the hostile bytes in a text field.
MULTIPART = "multipart/form-data; boundary=BoUnDaRy"
MULTIPART_ENDPOINTS = [
    ("accounts:settings", "reader", "bio", {"display_name": "reader"}),
    ("admin:forum_importjob_add", "superuser", "column", {"author": "someone"}),
]
MULTIPART_INPUTS = [
    ("NUL in a field", b"a\x00b"),
    ("invalid UTF-8", b"\xff\xfehi"),
]


def multipart_body(base: dict, field: str, raw_value: bytes) -> bytes:
    parts = [(name.encode(), value.encode()) for name, value in base.items()]
    parts.append((field.encode(), raw_value))
    body = b"".join(
        b'--BoUnDaRy\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name, value)
        for name, value in parts
    )
    return body + b"--BoUnDaRy--\r\n"


def multipart_request(world: World, endpoint: str, base: dict, field: str, raw_value: bytes):
    url = url_for(endpoint, world)
    body = multipart_body(base, field, raw_value)
    return lambda client: client.generic("POST", url, body, content_type=MULTIPART)


# Query strings a browser never sends, on pages that read their query.
QUERY_INPUTS = [
    ("forum:article-detail", "reader", "?sort=%00"),
    ("forum:article-detail", "anonymous", "?cursor=%FF%FE"),
    ("forum:article-detail", "anonymous", "?sort=top&cursor=" + "9" * 5000),
    ("forum:comment-replies", "anonymous", "?cursor=%00"),
    ("forum:profile", "anonymous", "?before=%00"),
    ("forum:profile", "anonymous", "?before=1-2-3"),
    ("notifications:inbox", "reader", "?before=%FF"),
    ("notifications:inbox", "reader", "?before=99999999999999999999-1"),
    ("forum:home", "anonymous", "?%FF%FE=1"),
    ("admin:forum_comment_changelist", "moderator", "?q=%00"),
]


def body_request(world: World, endpoint: str, case: BodyInput, base: dict, field: str):
    url = url_for(endpoint, world)
    body = case.body(base, field)
    return lambda client: client.generic("POST", url, body, content_type=FORM)


def query_request(world: World, endpoint: str, query: str):
    url = url_for(endpoint, world) + query
    return lambda client: client.get(url)


# Bombs: a few bytes that decode to a lot. Each is refused before it is decoded.
def bomb_requests(world: World) -> list[tuple[str, str, object, str]]:
    """(name, persona, send, text the 400 page says)."""
    settings_url = url_for("accounts:settings", world)
    import_url = url_for("admin:forum_importjob_add", world)
    image_bytes, archive_bytes = png_bomb(), zip_bomb()  # made before the requests are measured

    def image(client):
        upload = SimpleUploadedFile("bomb.png", image_bytes, content_type="image/png")
        return client.post(settings_url, {"display_name": "reader", "bio": "", "avatar": upload})

    def archive(client):
        upload = SimpleUploadedFile("bomb.zip", archive_bytes, content_type="application/zip")
        return client.post(import_url, {"files": [upload]})

    return [
        ("an image bomb (169 megapixels) as avatar", "reader", image, "too large"),
        ("a zip bomb (1 GB unpacked) to import", "superuser", archive, "a zip bomb"),
    ]

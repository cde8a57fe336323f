from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .enums import CommentSort

COMMENT_MAX_LENGTH = 10_000


class CommentBodyField(forms.CharField):
    """A comment's text, its line ends as the reader typed them.

    Browsers submit a textarea's line breaks as CRLF; counted as two characters each, a text
    the page's counter shows as within the limit would fail here. Normalized first, the limit
    means what the counter says.
    """

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace("\r\n", "\n")
        return super().to_python(value)


class CommentForm(forms.Form):
    body = CommentBodyField(
        label=_("Your comment"),
        max_length=COMMENT_MAX_LENGTH,
        strip=True,
        # No `maxlength`: the browser would cut a long paste silently. The page counts instead.
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": _("Write something first: the comment is empty."),
            "max_length": _(
                "A comment can be at most %(limit_value)d characters (it has %(show_value)d)."
            ),
        },
        help_text=_(
            "Markdown: **bold**, `code`, ``` code blocks, > quotes, links. @name mentions someone."
        ),
    )


class ThreadQueryForm(forms.Form):
    """The discussion's URL parameters: sort, filter, cursor, all shareable."""

    sort = forms.ChoiceField(
        choices=CommentSort.choices,
        required=False,
        error_messages={"invalid_choice": _("Unknown sort order.")},
    )
    author = forms.BooleanField(required=False)
    cursor = forms.CharField(
        required=False,
        max_length=200,
        error_messages={"max_length": _("This “load more” link is broken or outdated.")},
    )

    def clean_sort(self):
        return self.cleaned_data["sort"] or CommentSort.TOP

    @classmethod
    def cleaned(cls, data) -> dict | None:
        """The cleaned values of `data`, or None when it is invalid. A query with none of the
        form's parameters (most page views) gets the defaults an empty form cleans to, without
        building a form: copying its fields cost a cached page's request more than the rest of
        the view did."""
        if not any(name in data for name in cls.base_fields):
            if cls._defaults is None:
                form = cls({})
                form.is_valid()
                cls._defaults = form.cleaned_data
            return dict(cls._defaults)
        form = cls(data)
        return form.cleaned_data if form.is_valid() else None

    _defaults: dict | None = None

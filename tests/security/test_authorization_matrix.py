"""Who may do what, for every URL the site serves: every pattern × every persona × GET and POST.

MATRIX below is the policy, one row per (URL, method) and one column per persona (PERSONAS in
tests/security/authorization.py, in that order). A cell is what the persona gets:

    200, 400, 403, 404, 405   the status code
    302                       a redirect (the action's result, or another page)
    L                         a redirect to a login page: sign in first

Every cell that denies (L, 4xx) must also leave the database as it was. A URL pattern with no
row fails the suite, so a new view cannot ship without someone deciding who may use it; when a
row fails, the message prints the row as it now is, to compare with (or paste over) the old one.

POSTs carry the data a real form would send (POST_DATA), so a permitted action really happens
(302, 200) and a refused one is told apart from a form error.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from notifications.enums import Kind
from tests.security.authorization import DENIED, PERSONAS, act, build_world, url_for

pytestmark = pytest.mark.django_db

# Patterns that exist only with DEBUG on (make run serves uploaded files itself).
DEBUG_ONLY = {"^media/(?P<path>.*)$"}


def url_patterns() -> list[str]:
    """Every pattern the site serves: its "namespace:name", or its route when it has no name."""
    keys: list[str] = []

    def walk(resolver, prefix: str, namespace: str | None) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace
                if inner:
                    inner = f"{namespace}:{inner}" if namespace else inner
                walk(pattern, prefix + str(pattern.pattern), inner or namespace)
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if pattern.name:
                    keys.append(f"{namespace}:{pattern.name}" if namespace else pattern.name)
                else:
                    keys.append(route)

    walk(get_resolver(), "", None)
    return keys


def post_data(key: str, user, world) -> dict:
    own_name = user.display_name if user is not None else "anonymous"
    article = {"column": world.objects.column.slug, "article": world.objects.article.slug}
    return {
        "forum:comment-create": {"body": "A comment from the matrix"},
        "forum:comment-reply": {"body": "A reply from the matrix"},
        "forum:comment-edit": {"body": "Edited by the matrix"},
        "forum:comment-preview": {"body": "Preview **this**", **article},
        "forum:comment-feature": {"featured": "1"},
        "moderation:report": {"reason": "spam", "text": "matrix"},
        "moderation:hide": {"reason": "matrix"},
        "moderation:restore": {"reason": "matrix"},
        "admin:moderation_queue_act": {"reason": "matrix"},
        "accounts:settings": {"display_name": own_name, "bio": "Bio from the matrix"},
        "notifications:settings": {kind.value: "off" for kind in Kind},
        "notifications:unsubscribe": {"List-Unsubscribe": "One-Click"},
        "set_language": {"language": "zh-hans", "next": "/"},
    }.get(key, {})


# fmt: off
MATRIX: dict[tuple[str, str], str] = {
    # Columns, articles, comments
    #                                                                anon unv rdr oth sus ban aut oau mod stf su
    ("forum:article-detail", "GET"):                                 "200 200 200 200 200 200 200 200 200 200 200",
    ("forum:article-detail", "POST"):                                "405 405 405 405 405 405 405 405 405 405 405",
    ("forum:article-like", "GET"):                                   "405 405 405 405 405 405 405 405 405 405 405",
    ("forum:article-like", "POST"):                                  "  L 403 302 302 403 403 302 302 302 302 302",
    ("forum:column-detail", "GET"):                                  "200 200 200 200 200 200 200 200 200 200 200",
    ("forum:column-detail", "POST"):                                 "405 405 405 405 405 405 405 405 405 405 405",
    ("forum:comment-create", "GET"):                                 "405 405 405 405 405 405 405 405 405 405 405",
    ("forum:comment-create", "POST"):                                "  L 403 302 302 403 403 302 302 302 302 302",
    ("forum:comment-delete", "GET"):                                 "  L 403 200 403 403 403 403 403 403 403 403",
    ("forum:comment-delete", "POST"):                                "  L 403 302 403 403 403 403 403 403 403 403",
    ("forum:comment-edit", "GET"):                                   "  L 403 200 403 403 403 403 403 403 403 403",
    ("forum:comment-edit", "POST"):                                  "  L 403 302 403 403 403 403 403 403 403 403",
    ("forum:comment-feature", "GET"):                                "405 405 405 405 405 405 405 405 405 405 405",
    ("forum:comment-feature", "POST"):                               "  L 403 403 403 403 403 302 403 302 403 302",
    ("forum:comment-like", "GET"):                                   "405 405 405 405 405 405 405 405 405 405 405",
    ("forum:comment-like", "POST"):                                  "  L 403 302 302 403 403 302 302 302 302 302",
    ("forum:comment-permalink", "GET"):                              "302 302 302 302 302 302 302 302 302 302 302",
    ("forum:comment-permalink", "POST"):                             "302 302 302 302 302 302 302 302 302 302 302",
    ("forum:comment-preview", "GET"):                                "405 405 405 405 405 405 405 405 405 405 405",
    ("forum:comment-preview", "POST"):                               "403 403 200 200 403 403 200 200 200 200 200",
    ("forum:comment-replies", "GET"):                                "302 302 302 302 302 302 302 302 302 302 302",
    ("forum:comment-replies", "POST"):                               "405 405 405 405 405 405 405 405 405 405 405",
    ("forum:comment-reply", "GET"):                                  "  L 403 200 200 403 403 200 200 200 200 200",
    ("forum:comment-reply", "POST"):                                 "  L 403 302 302 403 403 302 302 302 302 302",
    ("forum:home", "GET"):                                           "200 200 200 200 200 200 200 200 200 200 200",
    ("forum:home", "POST"):                                          "405 405 405 405 405 405 405 405 405 405 405",
    # Reports and moderation on the site
    #                                                                anon unv rdr oth sus ban aut oau mod stf su
    ("moderation:hide", "GET"):                                      "  L 403 403 403 403 403 200 403 200 403 200",
    ("moderation:hide", "POST"):                                     "  L 403 403 403 403 403 302 403 302 403 302",
    ("moderation:report", "GET"):                                    "  L 403 403 409 403 403 200 200 200 200 200",
    ("moderation:report", "POST"):                                   "  L 403 403 409 403 403 200 200 200 200 200",
    ("moderation:restore", "GET"):                                   "  L 403 403 403 403 403 200 403 200 403 200",
    ("moderation:restore", "POST"):                                  "  L 403 403 403 403 403 302 403 302 403 302",
    # Notifications and follows
    #                                                                anon unv rdr oth sus ban aut oau mod stf su
    ("notifications:bell", "GET"):                                   "  L 200 200 200 200 200 200 200 200 200 200",
    ("notifications:bell", "POST"):                                  "  L 405 405 405 405 405 405 405 405 405 405",
    ("notifications:follow-article", "GET"):                         "  L 405 405 405 405 405 405 405 405 405 405",
    ("notifications:follow-article", "POST"):                        "  L 302 302 302 302 302 302 302 302 302 302",
    ("notifications:follow-column", "GET"):                          "  L 405 405 405 405 405 405 405 405 405 405",
    ("notifications:follow-column", "POST"):                         "  L 302 302 302 302 302 302 302 302 302 302",
    ("notifications:inbox", "GET"):                                  "  L 200 200 200 200 200 200 200 200 200 200",
    ("notifications:inbox", "POST"):                                 "  L 405 405 405 405 405 405 405 405 405 405",
    ("notifications:open", "GET"):                                   "  L 404 302 404 404 404 404 404 404 404 404",
    ("notifications:open", "POST"):                                  "  L 405 405 405 405 405 405 405 405 405 405",
    ("notifications:read", "GET"):                                   "  L 405 405 405 405 405 405 405 405 405 405",
    ("notifications:read", "POST"):                                  "  L 404 302 404 404 404 404 404 404 404 404",
    ("notifications:read-all", "GET"):                               "  L 405 405 405 405 405 405 405 405 405 405",
    ("notifications:read-all", "POST"):                              "  L 302 302 302 302 302 302 302 302 302 302",
    ("notifications:settings", "GET"):                               "  L 200 200 200 200 200 200 200 200 200 200",
    ("notifications:settings", "POST"):                              "  L 302 302 302 302 302 302 302 302 302 302",
    ("notifications:unsubscribe", "GET"):                            "200 200 200 200 200 200 200 200 200 200 200",
    ("notifications:unsubscribe", "POST"):                           "200 200 200 200 200 200 200 200 200 200 200",
    # Profiles
    #                                                                anon unv rdr oth sus ban aut oau mod stf su
    ("forum:profile", "GET"):                                        "200 200 200 200 200 200 200 200 200 200 200",
    ("forum:profile", "POST"):                                       "405 405 405 405 405 405 405 405 405 405 405",
    ("accounts:language", "GET"):                                    "302 302 302 302 302 302 302 302 302 302 302",
    ("accounts:language", "POST"):                                   "405 405 405 405 405 405 405 405 405 405 405",
    ("accounts:settings", "GET"):                                    "  L 200 200 200 200 200 200 200 200 200 200",
    ("accounts:settings", "POST"):                                   "  L 302 302 302 403 403 302 302 302 302 302",
    # Sign-in, sign-up, email and password (allauth), language
    #                                                                anon unv rdr oth sus ban aut oau mod stf su
    ("account_change_password", "GET"):                              "  L 200 200 200 200 200 200 200 200 200 200",
    ("account_change_password", "POST"):                             "  L 400 400 400 400 400 400 400 400 400 400",
    ("account_confirm_email", "GET"):                                "200 200 200 200 200 200 200 200 200 200 200",
    ("account_confirm_email", "POST"):                               "404 404 404 404 404 404 404 404 404 404 404",
    ("account_confirm_login_code", "GET"):                           "  L 302 302 302 302 302 302 302 302 302 302",
    ("account_confirm_login_code", "POST"):                          "  L 302 302 302 302 302 302 302 302 302 302",
    ("account_email", "GET"):                                        "  L 200 200 200 200 200 200 200 200 200 200",
    ("account_email", "POST"):                                       "  L 302 302 302 302 302 302 302 302 302 302",
    ("account_email_verification_sent", "GET"):                      "200 200 200 200 200 200 200 200 200 200 200",
    ("account_email_verification_sent", "POST"):                     "405 405 405 405 405 405 405 405 405 405 405",
    ("account_inactive", "GET"):                                     "200 200 200 200 200 200 200 200 200 200 200",
    ("account_inactive", "POST"):                                    "405 405 405 405 405 405 405 405 405 405 405",
    ("account_login", "GET"):                                        "200 302 302 302 302 302 302 302 302 302 302",
    ("account_login", "POST"):                                       "400 302 302 302 302 302 302 302 302 302 302",
    ("account_logout", "GET"):                                       "302 200 200 200 200 200 200 200 200 200 200",
    ("account_logout", "POST"):                                      "302 302 302 302 302 302 302 302 302 302 302",
    ("account_reauthenticate", "GET"):                               "  L 200 200 200 200 200 200 200 200 200 200",
    ("account_reauthenticate", "POST"):                              "  L 400 400 400 400 400 400 400 400 400 400",
    ("account_reset_password", "GET"):                               "200 200 200 200 200 200 200 200 200 200 200",
    ("account_reset_password", "POST"):                              "400 400 400 400 400 400 400 400 400 400 400",
    ("account_reset_password_done", "GET"):                          "200 200 200 200 200 200 200 200 200 200 200",
    ("account_reset_password_done", "POST"):                         "405 405 405 405 405 405 405 405 405 405 405",
    ("account_reset_password_from_key", "GET"):                      "200 200 200 200 200 200 200 200 200 200 200",
    ("account_reset_password_from_key", "POST"):                     "400 400 400 400 400 400 400 400 400 400 400",
    ("account_reset_password_from_key_done", "GET"):                 "200 200 200 200 200 200 200 200 200 200 200",
    ("account_reset_password_from_key_done", "POST"):                "405 405 405 405 405 405 405 405 405 405 405",
    ("account_set_password", "GET"):                                 "  L 302 302 302 302 302 302 302 302 302 302",
    ("account_set_password", "POST"):                                "  L 302 302 302 302 302 302 302 302 302 302",
    ("account_signup", "GET"):                                       "200 302 302 302 302 302 302 302 302 302 302",
    ("account_signup", "POST"):                                      "400 302 302 302 302 302 302 302 302 302 302",
    ("set_language", "GET"):                                         "302 302 302 302 302 302 302 302 302 302 302",
    ("set_language", "POST"):                                        "302 302 302 302 302 302 302 302 302 302 302",
    # The admin: staff only; the Moderators group may view and moderate, not edit
    #                                                                anon unv rdr oth sus ban aut oau mod stf su
    ("admin/(?P<url>.*)$", "GET"):                                   "  L   L   L   L   L   L   L   L 404 404 404",
    ("admin/(?P<url>.*)$", "POST"):                                  "  L   L   L   L   L   L   L   L 404 404 404",
    ("admin/account/emailaddress/<path:object_id>/", "GET"):         "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/account/emailaddress/<path:object_id>/", "POST"):        "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/accounts/user/<path:object_id>/", "GET"):                "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/accounts/user/<path:object_id>/", "POST"):               "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/auth/group/<path:object_id>/", "GET"):                   "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/auth/group/<path:object_id>/", "POST"):                  "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/article/<path:object_id>/", "GET"):                "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/article/<path:object_id>/", "POST"):               "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/column/<path:object_id>/", "GET"):                 "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/column/<path:object_id>/", "POST"):                "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/comment/<path:object_id>/", "GET"):                "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/comment/<path:object_id>/", "POST"):               "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/importjob/<path:object_id>/", "GET"):              "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/importjob/<path:object_id>/", "POST"):             "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/like/<path:object_id>/", "GET"):                   "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/forum/like/<path:object_id>/", "POST"):                  "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/moderation/moderationaction/<path:object_id>/", "GET"):  "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/moderation/moderationaction/<path:object_id>/", "POST"): "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/moderation/report/<path:object_id>/", "GET"):            "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/moderation/report/<path:object_id>/", "POST"):           "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/notifications/notification/<path:object_id>/", "GET"):   "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/notifications/notification/<path:object_id>/", "POST"):  "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/notifications/outgoingemail/<path:object_id>/", "GET"):  "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/notifications/outgoingemail/<path:object_id>/", "POST"): "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/sites/site/<path:object_id>/", "GET"):                   "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin/sites/site/<path:object_id>/", "POST"):                  "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin:account_emailaddress_add", "GET"):                       "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:account_emailaddress_add", "POST"):                      "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:account_emailaddress_change", "GET"):                    "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:account_emailaddress_change", "POST"):                   "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:account_emailaddress_changelist", "GET"):                "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:account_emailaddress_changelist", "POST"):               "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:account_emailaddress_delete", "GET"):                    "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:account_emailaddress_delete", "POST"):                   "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:account_emailaddress_history", "GET"):                   "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:account_emailaddress_history", "POST"):                  "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:accounts_user_add", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:accounts_user_add", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:accounts_user_change", "GET"):                           "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:accounts_user_change", "POST"):                          "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:accounts_user_changelist", "GET"):                       "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:accounts_user_changelist", "POST"):                      "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:accounts_user_delete", "GET"):                           "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:accounts_user_delete", "POST"):                          "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:accounts_user_history", "GET"):                          "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:accounts_user_history", "POST"):                         "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:app_list", "GET"):                                       "  L   L   L   L   L   L   L   L 200 404 200",
    ("admin:app_list", "POST"):                                      "  L   L   L   L   L   L   L   L 200 404 200",
    ("admin:auth_group_add", "GET"):                                 "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_group_add", "POST"):                                "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:auth_group_change", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_group_change", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:auth_group_changelist", "GET"):                          "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_group_changelist", "POST"):                         "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_group_delete", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_group_delete", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_group_history", "GET"):                             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_group_history", "POST"):                            "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_user_password_change", "GET"):                      "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:auth_user_password_change", "POST"):                     "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:autocomplete", "GET"):                                   "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:autocomplete", "POST"):                                  "  L   L   L   L   L   L   L   L 405 405 405",
    ("admin:forum_article_add", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_article_add", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:forum_article_change", "GET"):                           "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_article_change", "POST"):                          "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:forum_article_changelist", "GET"):                       "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_article_changelist", "POST"):                      "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_article_delete", "GET"):                           "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_article_delete", "POST"):                          "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_article_history", "GET"):                          "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_article_history", "POST"):                         "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_column_add", "GET"):                               "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_column_add", "POST"):                              "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:forum_column_change", "GET"):                            "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_column_change", "POST"):                           "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:forum_column_changelist", "GET"):                        "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_column_changelist", "POST"):                       "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_column_delete", "GET"):                            "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_column_delete", "POST"):                           "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_column_history", "GET"):                           "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_column_history", "POST"):                          "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_comment_add", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:forum_comment_add", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:forum_comment_change", "GET"):                           "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_comment_change", "POST"):                          "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:forum_comment_changelist", "GET"):                       "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_comment_changelist", "POST"):                      "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_comment_delete", "GET"):                           "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_comment_delete", "POST"):                          "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_comment_history", "GET"):                          "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_comment_history", "POST"):                         "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:forum_importjob_add", "GET"):                            "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_add", "POST"):                           "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:forum_importjob_change", "GET"):                         "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_change", "POST"):                        "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:forum_importjob_changelist", "GET"):                     "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_changelist", "POST"):                    "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_delete", "GET"):                         "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_delete", "POST"):                        "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_history", "GET"):                        "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_history", "POST"):                       "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_progress", "GET"):                       "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_importjob_progress", "POST"):                      "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_like_add", "GET"):                                 "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_like_add", "POST"):                                "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:forum_like_change", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_like_change", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:forum_like_changelist", "GET"):                          "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_like_changelist", "POST"):                         "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_like_delete", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_like_delete", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_like_history", "GET"):                             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:forum_like_history", "POST"):                            "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:index", "GET"):                                          "  L   L   L   L   L   L   L   L 200 200 200",
    ("admin:index", "POST"):                                         "  L   L   L   L   L   L   L   L 200 200 200",
    ("admin:jsi18n", "GET"):                                         "  L   L   L   L   L   L   L   L 200 200 200",
    ("admin:jsi18n", "POST"):                                        "  L   L   L   L   L   L   L   L 405 405 405",
    ("admin:login", "GET"):                                          "200 200 200 200 200 200 200 200 302 302 302",
    ("admin:login", "POST"):                                         "400 400 400 400 400 400 400 400 400 400 400",
    ("admin:logout", "GET"):                                         "302 302 302 302 302 302 302 302 405 405 405",
    ("admin:logout", "POST"):                                        "302 302 302 302 302 302 302 302 200 200 200",
    ("admin:moderation_moderationaction_add", "GET"):                "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_moderationaction_add", "POST"):               "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_moderationaction_change", "GET"):             "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_moderationaction_change", "POST"):            "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_moderationaction_changelist", "GET"):         "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_moderationaction_changelist", "POST"):        "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_moderationaction_delete", "GET"):             "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_moderationaction_delete", "POST"):            "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_moderationaction_history", "GET"):            "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_moderationaction_history", "POST"):           "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_queue", "GET"):                               "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_queue", "POST"):                              "  L   L   L   L   L   L   L   L 302 403 302",
    ("admin:moderation_queue_act", "GET"):                           "  L   L   L   L   L   L   L   L 405 403 405",
    ("admin:moderation_queue_act", "POST"):                          "  L   L   L   L   L   L   L   L 302 403 302",
    ("admin:moderation_report_add", "GET"):                          "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_report_add", "POST"):                         "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_report_change", "GET"):                       "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_report_change", "POST"):                      "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_report_changelist", "GET"):                   "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_report_changelist", "POST"):                  "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_report_delete", "GET"):                       "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_report_delete", "POST"):                      "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:moderation_report_history", "GET"):                      "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:moderation_report_history", "POST"):                     "  L   L   L   L   L   L   L   L 200 403 200",
    ("admin:notifications_notification_add", "GET"):                 "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_notification_add", "POST"):                "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:notifications_notification_change", "GET"):              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_notification_change", "POST"):             "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:notifications_notification_changelist", "GET"):          "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_notification_changelist", "POST"):         "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_notification_delete", "GET"):              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_notification_delete", "POST"):             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_notification_history", "GET"):             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_notification_history", "POST"):            "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_outgoingemail_add", "GET"):                "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:notifications_outgoingemail_add", "POST"):               "  L   L   L   L   L   L   L   L 403 403 403",
    ("admin:notifications_outgoingemail_change", "GET"):             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_outgoingemail_change", "POST"):            "  L   L   L   L   L   L   L   L 403 403 302",
    ("admin:notifications_outgoingemail_changelist", "GET"):         "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_outgoingemail_changelist", "POST"):        "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_outgoingemail_delete", "GET"):             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_outgoingemail_delete", "POST"):            "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_outgoingemail_history", "GET"):            "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:notifications_outgoingemail_history", "POST"):           "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:password_change", "GET"):                                "  L   L   L   L   L   L   L   L 200 200 200",
    ("admin:password_change", "POST"):                               "  L   L   L   L   L   L   L   L 400 400 400",
    ("admin:password_change_done", "GET"):                           "  L   L   L   L   L   L   L   L 200 200 200",
    ("admin:password_change_done", "POST"):                          "  L   L   L   L   L   L   L   L 405 405 405",
    ("admin:sites_site_add", "GET"):                                 "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:sites_site_add", "POST"):                                "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:sites_site_change", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:sites_site_change", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 400",
    ("admin:sites_site_changelist", "GET"):                          "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:sites_site_changelist", "POST"):                         "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:sites_site_delete", "GET"):                              "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:sites_site_delete", "POST"):                             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:sites_site_history", "GET"):                             "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:sites_site_history", "POST"):                            "  L   L   L   L   L   L   L   L 403 403 200",
    ("admin:view_on_site", "GET"):                                   "  L   L   L   L   L   L   L   L 302 302 302",
    ("admin:view_on_site", "POST"):                                  "  L   L   L   L   L   L   L   L 302 302 302",
}
# fmt: on


def rows() -> list[tuple[str, str]]:
    return [(key, method) for key in url_patterns() for method in ("GET", "POST")]


def test_every_url_pattern_has_a_row_for_each_method():
    served = set(rows())
    missing = sorted(served - set(MATRIX))
    assert not missing, f"URL patterns without a row in MATRIX: {missing}"
    stale = sorted(row for row in set(MATRIX) - served if row[0] not in DEBUG_ONLY)
    assert not stale, f"MATRIX rows for URLs the site no longer serves: {stale}"


def test_every_row_has_a_cell_for_each_persona():
    short = {row: cells for row, cells in MATRIX.items() if len(cells.split()) != len(PERSONAS)}
    assert not short


@pytest.mark.parametrize(
    ("key", "method"), [pytest.param(*row, id=f"{row[1]} {row[0]}") for row in rows()]
)
def test_each_persona_gets_what_the_matrix_says(key, method):
    world = build_world()
    url = url_for(key, world)
    got, wrote_when_denied = [], []
    for persona in PERSONAS:
        result, wrote = act(
            world, persona, method, url, post_data(key, world.users[persona], world)
        )
        got.append(result)
        if result in DENIED and wrote:
            wrote_when_denied.append(persona)
    row = " ".join(f"{cell:>3}" for cell in got)
    assert row.split() == MATRIX.get((key, method), "").split(), (
        f'{method} {url}: now\n    ({key!r}, {method!r}): "{row}",'
    )
    assert not wrote_when_denied, f"{method} {url} was refused but wrote for {wrote_when_denied}"


def test_the_harness_sees_a_permitted_write_and_a_refused_one():
    world = build_world()
    url = url_for("forum:comment-create", world)
    data = post_data("forum:comment-create", world.users["reader"], world)

    assert act(world, "reader", "POST", url, data) == ("302", True)
    assert act(world, "anonymous", "POST", url, data) == ("L", False)
    assert act(world, "banned", "POST", url, data) == ("403", False)

"""Load the demo content once: a demo column, a few chapters and a discussion.

Idempotent: a second run sees the demo column and only prints the demo accounts again. The
demo's history is backdated and nobody should be emailed about it: the notification emails
that loading it queues are dropped before they are sent (the notifications stay, so the demo
reader's bell has something to show).
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from demo.content import CHAPTERS, COLUMN, DISCUSSION, PEOPLE
from forum import events, services
from forum.importing import import_sources
from forum.legacy import iter_sources
from forum.models import Column, Event
from forum.permissions import MODERATOR_PERMISSIONS, MODERATORS_GROUP
from notifications.models import OutgoingEmail

# Our own pages in the old site's two formats, imported like a real archive would be.
DEMO_LEGACY = settings.BASE_DIR / "demo" / "legacy"
DEMO_LEGACY_COLUMN = "数据库内核十讲"

DEMO_PASSWORD = "colloquy-demo"  # noqa: S105 - printed on purpose: a local demo account
# The demo column's first chapter appeared this long ago; its people joined before that.
DEMO_AGE = timedelta(days=30)

# Who each demo account is for, in the banner (key of PEOPLE, or "admin").
ROLES = [
    ("admin", "admin: the Django admin, moderation desk, legacy import"),
    ("author", "column author: author replies (作者回复), featuring comments"),
    ("moderator", "moderator: the moderation queue in the admin"),
    ("reader", "reader: read, comment, reply, like, follow"),
]


def ensure_user(
    *, email: str, display_name: str, bio: str = "", staff: bool = False, joined=None
) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        create = User.objects.create_superuser if staff else User.objects.create_user
        user = create(email=email, password=DEMO_PASSWORD, display_name=display_name, bio=bio)
        if joined is not None:
            User.objects.filter(pk=user.pk).update(date_joined=joined)
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


class Command(BaseCommand):
    help = "Load the demo column, chapters and discussion (once) and print the demo accounts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run with DEBUG off too. The demo accounts have a published password: never "
            "on a site others can reach.",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with a published password, so it runs only with "
                "DEBUG on. Add --force to run it anyway (never on a public site)."
            )
        with transaction.atomic():
            accounts = self._seed()
        self._banner(accounts)

    def _seed(self) -> dict[str, User]:
        joined = timezone.now() - DEMO_AGE - timedelta(days=14)
        accounts = {
            "admin": ensure_user(
                email=settings.COLLOQUY_DEMO_ADMIN_EMAIL,
                display_name="admin",
                staff=True,
                joined=joined,
            )
        }
        accounts |= {key: ensure_user(**person, joined=joined) for key, person in PEOPLE.items()}
        moderator = accounts["moderator"]
        if not moderator.is_staff:
            User.objects.filter(pk=moderator.pk).update(is_staff=True)
        moderator.groups.add(moderators_group())

        emails_before = OutgoingEmail.objects.aggregate(last=Max("pk"))["last"] or 0
        events_before = Event.objects.aggregate(last=Max("pk"))["last"] or 0
        if Column.objects.filter(slug=COLUMN["slug"]).exists():
            self.stdout.write("Demo content already loaded.")
        else:
            self._load(accounts)
            self.stdout.write(self.style.SUCCESS("Demo content loaded."))
        if not Column.objects.filter(legacy_key=f"column:{DEMO_LEGACY_COLUMN}").exists():
            report = import_sources(iter_sources([DEMO_LEGACY]))
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo legacy pages imported: {report.chapters.created} chapters, "
                    f"{report.comments.created} comments."
                )
            )
        # The worker's part done here, inside the transaction (the tasks queued for after the
        # commit find the events dispatched), so that the emails it queues can be dropped too:
        # their send, queued for after the commit, finds nothing.
        for event_id in Event.objects.filter(pk__gt=events_before).values_list("pk", flat=True):
            events.dispatch(event_id=event_id)
        OutgoingEmail.objects.filter(pk__gt=emails_before).delete()
        return accounts

    def _banner(self, accounts: dict[str, User]) -> None:
        url = settings.SITE_URL.rstrip("/")
        lines = ["", f"  Colloquy demo: {url}/   (admin: {url}/admin/)", ""]
        lines.append(f"  Every demo account's password: {DEMO_PASSWORD}")
        for key, role in ROLES:
            lines.append(f"    {accounts[key].email:<26} {role}")
        lines.append("")
        self.stdout.write("\n".join(lines))

    def _load(self, people: dict[str, User]) -> None:
        author = people["author"]
        column = services.create_column(
            author=author,
            title=COLUMN["title"],
            slug=COLUMN["slug"],
            description=COLUMN["description"],
        )
        start = timezone.now() - DEMO_AGE
        articles = [
            services.publish_article(
                column=column,
                title=chapter["title"],
                slug=chapter["slug"],
                body_md=chapter["body"],
                position=position,
                published_at=start + timedelta(days=(position - 1) * 7),
            )
            for position, chapter in enumerate(CHAPTERS, start=1)
        ]
        for chapter_index, threads in DISCUSSION.items():
            article = articles[chapter_index]
            # A chapter's discussion starts after it was published.
            when = article.published_at + timedelta(hours=2)
            for thread in threads:
                when += timedelta(hours=5)
                root = services.post_comment(
                    article=article, author=people[thread[0][0]], body=thread[0][1], created_at=when
                )
                posted = [root]
                for who, text, reply_to in thread[1:]:
                    when += timedelta(minutes=47)
                    posted.append(
                        services.post_comment(
                            article=article,
                            author=people[who],
                            body=text,
                            parent=posted[reply_to],
                            created_at=when,
                        )
                    )


def moderators_group() -> Group:
    """The group the migration made; made again (with its permissions) if someone deleted it."""
    group, created = Group.objects.get_or_create(name=MODERATORS_GROUP)
    if created:
        for app_label, codename in MODERATOR_PERMISSIONS:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    return group

"""Load the demo content once: a demo column, a few chapters and a discussion.

Idempotent: a second run sees the demo column and only prints the demo accounts again.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from forum import services
from forum.demo.content import CHAPTERS, COLUMN, DISCUSSION, PEOPLE
from forum.importing import import_sources
from forum.legacy import iter_sources
from forum.models import Column

# Our own pages in the old site's two formats, imported like a real archive would be.
DEMO_LEGACY = settings.BASE_DIR / "forum" / "demo" / "legacy"
DEMO_LEGACY_COLUMN = "数据库内核十讲"

DEMO_PASSWORD = "colloquy-demo"  # noqa: S105 - printed on purpose: a local demo account


def ensure_user(*, email: str, display_name: str, bio: str = "", staff: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        create = User.objects.create_superuser if staff else User.objects.create_user
        user = create(email=email, password=DEMO_PASSWORD, display_name=display_name, bio=bio)
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


class Command(BaseCommand):
    help = "Load the demo column, chapters and discussion (once) and print the demo accounts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (not for production)."
        )

    @transaction.atomic
    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates accounts with a known password: DEBUG only.")
        admin = ensure_user(
            email=settings.COLLOQUY_DEMO_ADMIN_EMAIL, display_name="admin", staff=True
        )
        people = {key: ensure_user(**person) for key, person in PEOPLE.items()}
        if Column.objects.filter(slug=COLUMN["slug"]).exists():
            self.stdout.write("Demo content already loaded.")
        else:
            self._load(people)
            self.stdout.write(self.style.SUCCESS("Demo content loaded."))
        if not Column.objects.filter(legacy_key=f"column:{DEMO_LEGACY_COLUMN}").exists():
            report = import_sources(iter_sources([DEMO_LEGACY]))
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo legacy pages imported: {report.chapters.created} chapters, "
                    f"{report.comments.created} comments."
                )
            )
        self.stdout.write(
            "\n  Demo admin:  {}  /  {}\n  Demo reader: {}  /  {}\n  Admin site:  http://127.0.0.1:8000/admin/\n".format(
                admin.email, DEMO_PASSWORD, people["reader"].email, DEMO_PASSWORD
            )
        )

    def _load(self, people: dict[str, User]) -> None:
        author = people["author"]
        column = services.create_column(
            author=author,
            title=COLUMN["title"],
            slug=COLUMN["slug"],
            description=COLUMN["description"],
        )
        start = timezone.now() - timedelta(days=30)
        articles = [
            services.publish_article(
                column=column,
                title=chapter["title"],
                slug=chapter["slug"],
                body_md=chapter["body"],
                position=position,
                published_at=start + timedelta(days=position * 3),
            )
            for position, chapter in enumerate(CHAPTERS, start=1)
        ]
        when = start + timedelta(days=4)
        for chapter_index, threads in DISCUSSION.items():
            article = articles[chapter_index]
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

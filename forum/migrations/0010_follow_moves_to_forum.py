import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Follows move from the notifications app to the forum (which shows them on its pages and
    must not import notifications). The table stays where it is: only Django's state moves."""

    dependencies = [
        ("forum", "0009_event_outbox"),
        ("notifications", "0004_notify_approved_comments"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Follow",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "article",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="follows",
                                to="forum.article",
                            ),
                        ),
                        (
                            "column",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="follows",
                                to="forum.column",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "notifications_follow",
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("article__isnull", True), ("column__isnull", False)),
                                    models.Q(("article__isnull", False), ("column__isnull", True)),
                                    _connector="OR",
                                ),
                                name="follow_exactly_one_target",
                            ),
                            models.UniqueConstraint(
                                condition=models.Q(("column__isnull", False)),
                                fields=("user", "column"),
                                name="follow_column_once",
                            ),
                            models.UniqueConstraint(
                                condition=models.Q(("article__isnull", False)),
                                fields=("user", "article"),
                                name="follow_article_once",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]

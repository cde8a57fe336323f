from __future__ import annotations

import importlib

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission

from accounts.models import User
from forum import services
from forum.models import Article, Column, Comment

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    display_name = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        # Users are verified unless the test says otherwise (verified=False).
        if create and obj.email and extracted is not False:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class ColumnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Column

    title = factory.Sequence(lambda n: f"Column {n}")
    slug = factory.Sequence(lambda n: f"column-{n}")
    author = factory.SubFactory(UserFactory)
    description = "A column about things."


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    column = factory.SubFactory(ColumnFactory)
    title = factory.Sequence(lambda n: f"Chapter {n}")
    slug = factory.Sequence(lambda n: f"chapter-{n}")
    position = factory.Sequence(lambda n: n + 1)
    author = factory.LazyAttribute(lambda o: o.column.author)
    body_md = "Some **text**."

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.publish_article(**kwargs)


class CommentFactory(factory.django.DjangoModelFactory):
    """Comments are made through the service, so the tree fields and counters are right."""

    class Meta:
        model = Comment

    article = factory.SubFactory(ArticleFactory)
    author = factory.SubFactory(UserFactory)
    body = factory.Sequence(lambda n: f"Comment number {n}")
    parent = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        parent = kwargs.get("parent")
        if parent is not None:
            kwargs["article"] = parent.article
        return services.post_comment(**kwargs)


def moderators_group() -> Group:
    """The "Moderators" group as its data migration makes it.

    A transactional test (the browser tests) flushes the database and the group with it; this
    puts it back with the migration's own list of permissions.
    """
    migration = importlib.import_module("moderation.migrations.0002_moderators_group")
    group, _ = Group.objects.get_or_create(name=migration.GROUP)
    group.permissions.set(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in migration.PERMISSIONS
    )
    return group

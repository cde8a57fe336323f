"""The "Moderators" group, with exactly what moderation needs.

They can see comments, articles, columns, users, reports and the audit log, and act through the
moderation actions (which require moderation.moderate). They cannot change users (passwords,
groups, staff status, permissions) or anything else.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Moderators"
PERMISSIONS = [
    ("moderation", "moderate"),
    ("moderation", "view_report"),
    ("moderation", "view_moderationaction"),
    ("forum", "view_comment"),
    ("forum", "view_commentrevision"),
    ("forum", "view_article"),
    ("forum", "view_column"),
    ("accounts", "view_user"),
]


def create_group(apps, schema_editor):
    # Permissions are normally made after all migrations; make them now to grant them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("forum", "0005_remove_comment_comment_status_valid_and_more"),
        ("accounts", "0003_user_suspended_until_user_suspension_reason"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]

from django.db import migrations, models

from accounts.names import name_skeleton


def fill_skeletons(apps, schema_editor):
    """The first account (by id) with a skeleton holds it; a later one whose name already looks
    like an earlier one keeps its name and a NULL skeleton (NULLs don't collide) until it changes
    its name, which must then pass the check."""
    User = apps.get_model("accounts", "User")
    seen = set()
    batch = []
    for pk, name in User.objects.order_by("pk").values_list("pk", "display_name").iterator():
        skeleton = name_skeleton(name)
        if skeleton in seen:
            continue
        seen.add(skeleton)
        batch.append(User(pk=pk, display_name_skeleton=skeleton))
        if len(batch) == 1000:
            User.objects.bulk_update(batch, ["display_name_skeleton"])
            batch = []
    User.objects.bulk_update(batch, ["display_name_skeleton"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_display_name_characters"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="display_name_skeleton",
            field=models.CharField(editable=False, max_length=200, null=True),
        ),
        migrations.RunPython(fill_skeletons, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                fields=["display_name_skeleton"],
                name="user_display_name_skeleton_unique",
                violation_error_message="This display name looks like one that is taken.",
            ),
        ),
    ]

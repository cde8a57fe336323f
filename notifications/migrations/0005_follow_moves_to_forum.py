from django.db import migrations


class Migration(migrations.Migration):
    """Follows now belong to the forum (forum 0010): the table and its constraints stay, used by
    the forum's Follow model; only Django's state forgets this app's."""

    dependencies = [
        ("notifications", "0004_notify_approved_comments"),
        ("forum", "0010_follow_moves_to_forum"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveConstraint(model_name="follow", name="follow_exactly_one_target"),
                migrations.RemoveConstraint(model_name="follow", name="follow_column_once"),
                migrations.RemoveConstraint(model_name="follow", name="follow_article_once"),
                migrations.DeleteModel(name="Follow"),
            ],
        ),
    ]

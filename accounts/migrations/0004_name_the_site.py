"""Name the site: allauth's emails say "Hello from {site name}!" and name its domain.

django.contrib.sites creates Site 1 as "example.com" after the first migrate; this writes our
name and the domain of SITE_URL instead (update_or_create: it may run before that default row
exists, and then the default is never created).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.db import migrations


def name_the_site(apps, schema_editor):
    Site = apps.get_model("sites", "Site")
    domain = urlsplit(settings.SITE_URL).netloc or "localhost"
    Site.objects.update_or_create(
        pk=settings.SITE_ID, defaults={"name": settings.SITE_NAME, "domain": domain}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_suspended_until_user_suspension_reason"),
        ("sites", "0002_alter_domain_unique"),
    ]

    operations = [migrations.RunPython(name_the_site, migrations.RunPython.noop)]

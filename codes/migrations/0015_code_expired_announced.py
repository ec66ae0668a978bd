"""When a code's code.expired event was written, and the partial index of the codes whose
expiry is still to be announced (codes.services.expiry)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("codes", "0014_leaked_codes"),
    ]

    operations = [
        migrations.AddField(
            model_name="promocode",
            name="expired_notified_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="promocode",
            index=models.Index(
                condition=models.Q(
                    ("expired_notified_at__isnull", True),
                    ("expires_at__isnull", False),
                    ("status__in", ["available", "assigned"]),
                ),
                fields=["expires_at", "id"],
                name="promocode_expiry_unannounced",
            ),
        ),
    ]

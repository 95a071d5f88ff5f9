import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0004_indexes_led_by_foreign_keys_once")]

    operations = [
        # The dispatcher's queue. Events still unplanned by the release before it (deliveries_planned False, and
        # any it writes during a rolling deploy) are planned from that flag as before: nothing to move here.
        migrations.CreateModel(
            name="EventPending",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="webhooks.event",
                        verbose_name="event",
                    ),
                ),
            ],
            options={
                "verbose_name": "event waiting for its deliveries' planning",
                "verbose_name_plural": "events waiting for their deliveries' planning",
            },
        ),
        migrations.AlterField(
            model_name="event",
            name="deliveries_planned",
            field=models.BooleanField(db_default=True, default=True, editable=False, verbose_name="deliveries planned"),
        ),
    ]

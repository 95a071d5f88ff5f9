from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [
        # Existing events (and any that code from before the dispatcher writes during a rolling deploy)
        # had their deliveries planned when they were made: the column's database default is True.
        migrations.AddField(
            model_name="event",
            name="deliveries_planned",
            field=models.BooleanField(default=False, db_default=True, editable=False),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                condition=models.Q(("deliveries_planned", False)), fields=["id"], name="event_unplanned"
            ),
        ),
    ]

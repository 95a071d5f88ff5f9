from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [
        # Events written before the dispatcher existed had their deliveries planned when they were made.
        migrations.AddField(
            model_name="event",
            name="deliveries_planned",
            field=models.BooleanField(default=True, editable=False),
        ),
        migrations.AlterField(
            model_name="event",
            name="deliveries_planned",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                condition=models.Q(("deliveries_planned", False)), fields=["id"], name="event_unplanned"
            ),
        ),
    ]

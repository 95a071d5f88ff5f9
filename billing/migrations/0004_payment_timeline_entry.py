from django.db import migrations


class Migration(migrations.Migration):
    """The payment timeline's rows are called what they are (they were PaymentIntentEvent, one of four 'events')."""

    dependencies = [
        ("billing", "0003_attempt_payment_method_refund_request_key"),
    ]

    operations = [
        migrations.RenameModel("PaymentIntentEvent", "PaymentTimelineEntry"),
    ]

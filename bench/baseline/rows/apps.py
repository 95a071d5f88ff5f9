from django.apps import AppConfig


class RowsConfig(AppConfig):
    name = "baseline.rows"
    label = "rows"

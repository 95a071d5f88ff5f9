from django.db import models


class Token(models.Model):
    """An API token, stored as the sha256 hex of its secret (unique, so indexed)."""

    key_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        db_table = "bench_token"

    def __str__(self):
        return self.key_hash[:12]


class Row(models.Model):
    token = models.ForeignKey(Token, on_delete=models.CASCADE)
    email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "bench_row"

    def __str__(self):
        return f"row {self.pk}"

"""The baseline endpoint: a Bearer token lookup in one indexed query, one INSERT, a small JSON body."""

import hashlib

from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Row, Token


class RowsView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    def post(self, request):
        scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme != "Bearer" or not secret:
            return Response({"error": "missing bearer token"}, status=401)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        token_id = Token.objects.filter(key_hash=digest).values_list("id", flat=True).first()
        if token_id is None:
            return Response({"error": "invalid token"}, status=401)
        row = Row.objects.create(token_id=token_id, email=request.data.get("email", ""))
        return Response({"id": row.pk, "object": "row", "email": row.email, "created": int(row.created_at.timestamp())})

"""The front door: the dashboard is where people start."""

from django.shortcuts import redirect


def home(request):
    return redirect("admin:index")

from .dashboard import scope_of


def dashboard(request):
    if not request.path.startswith("/admin/"):
        return {}
    return {"kassa_scope": scope_of(request)}

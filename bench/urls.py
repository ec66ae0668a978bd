"""The project's routes plus /bench/plain: a Django view answering a small JSON body without
the database or the cache, through the same middleware as every request. Benchmarks only."""

from django.http import JsonResponse
from django.urls import path

from config.urls import handler500  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns


def plain(request):
    return JsonResponse({"status": "ok", "path": request.path})


urlpatterns = [path("bench/plain", plain), *project_urlpatterns]

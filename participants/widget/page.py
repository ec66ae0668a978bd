"""The widget page, `/widget/{program}/#token=…`.

The token travels in the URL fragment, which browsers never send to the server, so it reaches
no server log; the page also sets Referrer-Policy: no-referrer so no URL of it leaks onwards.
The page carries nothing secret: the script reads the token from location.hash.
"""

from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_safe

from programs.selectors import program_get_by_slug


@require_safe
def widget_page(request, program_slug):
    program = program_get_by_slug(program_slug)
    if program is None:
        raise Http404(f"No program {program_slug!r}.")
    response = render(request, "widget/page.html", {"program": program})
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


# Included at widget/ by config.urls.
urlpatterns = [path("<slug:program_slug>/", widget_page, name="widget-page")]

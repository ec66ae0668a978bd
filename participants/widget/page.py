"""The widget page, `/widget/{program}/#token=…`.

The token travels in the URL fragment, which browsers never send to the server, so it reaches
no server log; the page also sets Referrer-Policy: no-referrer so no URL of it leaks onwards.
The page carries nothing secret: the script reads the token from location.hash.
"""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import translation
from django.views.decorators.http import require_safe
from django.views.i18n import JSONCatalog

from programs.selectors import program_get_by_slug

from .language import widget_language


@require_safe
def widget_page(request, program_slug):
    program = program_get_by_slug(program_slug)
    if program is None:
        raise Http404(f"No program {program_slug!r}.")
    # The page's own words (the participant's locale is in the token, which only the script
    # reads: the script asks the API, which weighs it first, and re-labels what it draws).
    language = widget_language(
        requested=request.GET.get("lang", ""),
        accept_language=request.headers.get("Accept-Language", ""),
        program_default=program.default_language,
    )
    with translation.override(language):
        response = render(
            request,
            "widget/page.html",
            {"program": program, "lang": request.GET.get("lang", "")[:35]},
        )
    response["Content-Language"] = language
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


_catalog = JSONCatalog.as_view(domain="djangojs", packages=["participants"])


@require_safe
def widget_catalog(request, language):
    """The widget script's texts in one offered language (Django's JSON catalogue of the
    `djangojs` domain, locale/*/LC_MESSAGES/djangojs.po). Public and the same for everyone: any
    site embedding the widget may read it, and browsers keep it for an hour."""
    if language not in dict(settings.LANGUAGES):
        raise Http404(f"No language {language[:35]!r} is offered.")
    with translation.override(language):
        response = _catalog(request)
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    response["Content-Language"] = language
    return response


# Included at widget/ by config.urls.
urlpatterns = [
    path("i18n/<str:language>.json", widget_catalog, name="widget-catalog"),
    path("<slug:program_slug>/", widget_page, name="widget-page"),
]

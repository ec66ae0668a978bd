"""The console's settings page of the person signed in: their language and time zone.

Each console user edits only their own settings (the page takes no user from the URL). The
language is kept where the console's language menu keeps it (Django's language cookie,
docs/architecture.md "Languages"); the time zone on `ConsoleSettings`, which
`programs.middleware.ConsoleTimeZoneMiddleware` activates on every console page."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.widgets import UnfoldAdminSelectWidget

from foundation.wording import console_time

from .models import ConsoleSettings, time_zone_names
from .services import console_settings_update


class ConsoleSettingsForm(forms.ModelForm):
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        choices=settings.LANGUAGES,
        widget=UnfoldAdminSelectWidget,
    )

    class Meta:
        model = ConsoleSettings
        fields = ["language", "time_zone"]
        widgets = {"time_zone": UnfoldAdminSelectWidget}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].widget.choices = [(zone, zone) for zone in time_zone_names()]


def console_settings_view(request):
    user = request.user
    stored = ConsoleSettings.objects.filter(user=user).first() or ConsoleSettings(user=user)
    if request.method == "POST":
        form = ConsoleSettingsForm(request.POST, instance=stored)
        if form.is_valid():
            saved = console_settings_update(user=user, time_zone=form.cleaned_data["time_zone"])
            language = form.cleaned_data["language"]
            translation.activate(language)
            timezone.activate(saved.time_zone)
            messages.success(
                request,
                _("Saved. Times are shown in %(zone)s: it is now %(now)s.")
                % {"zone": saved.time_zone, "now": console_time(timezone.now())},
            )
            response = redirect("console-settings")
            # The same cookie Django's set_language writes (the console's language menu).
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
            return response
    else:
        form = ConsoleSettingsForm(
            instance=stored, initial={"language": translation.get_language()}
        )
    context = {
        **admin.site.each_context(request),
        "title": _("Language and time zone"),
        "form": form,
        "now": console_time(timezone.now()),
    }
    return TemplateResponse(request, "admin/programs/console_settings.html", context)

"""The participants admin: the list, a participant's page, block, erase, add a code, import."""

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportMixin
from unfold.admin import ModelAdmin
from unfold.decorators import action
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminTextInputWidget, UnfoldBooleanWidget

from audit.admin import AuditTrailAdminMixin
from codes.models import PromoCode
from codes.selectors import referral_code_pattern
from codes.services import CannotAddCode, PromoCodesOff
from codes.upload_store import (
    UploadExpired,
    UploadStoreUnavailable,
    upload_keep,
)
from foundation.wording import console_time
from programs.admin_confirm import action_confirmation, action_confirmed
from programs.admin_scoping import ProgramScopedAdminMixin, managed_programs

from ..models import Participant
from ..resources import ParticipantImportResource
from ..services import (
    ParticipantNotFound,
    participant_block,
    participant_code_add,
    participant_erase,
    participant_unblock,
)
from .import_flow import ParticipantConfirmImportForm, ParticipantImportForm, _KeptUploadStorage
from .inlines import CodesAndLinksInline, ReferralsInline, RewardsInline

log = logging.getLogger(__name__)


class ShortOfCodesFilter(admin.SimpleListFilter):
    """Advocates in the codes app's queue: the pool could not fill their quota."""

    title = _("codes")
    parameter_name = "short_of_codes"

    def lookups(self, request, model_admin):
        return [("yes", _("Short of codes")), ("no", _("Not short"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(code_shortfall__isnull=False)
        if self.value() == "no":
            return queryset.filter(code_shortfall__isnull=True)
        return queryset


@admin.register(Participant)
class ParticipantAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ImportMixin, ModelAdmin):
    list_display = [
        "participant_id",
        "email",
        "name",
        "program",
        "is_advocate",
        "is_blocked",
        "codes_held",
        "created_at",
    ]
    list_filter = ["program", "is_advocate", "is_blocked", ShortOfCodesFilter]
    search_fields = ["participant_id", "email", "first_name", "last_name"]
    readonly_fields = [
        "is_blocked",
        "blocked_at",
        "erased_at",  # set only by erasing (a privacy request), never by hand
        "short_of_codes_since",
        "created_at",
        "updated_at",
    ]
    inlines = [CodesAndLinksInline, ReferralsInline, RewardsInline]
    actions = ["block_advocates", "unblock_advocates"]
    actions_detail = ["add_referral_code", "erase_personal_data"]

    def get_queryset(self, request):
        # One index probe per row shown (promocode_by_holder), not a join over every code.
        held = (
            PromoCode.objects.held()
            .filter(holder=OuterRef("pk"))
            .values("holder")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(held_count=Subquery(held[:1]))

    @admin.display(description=_("Name"), ordering="last_name")
    def name(self, participant):
        return " ".join(filter(None, [participant.first_name, participant.last_name])) or "—"

    @admin.display(description=_("Codes held"), ordering="held_count")
    def codes_held(self, participant):
        return participant.held_count or 0

    @admin.display(description=_("Short of codes since"))
    def short_of_codes_since(self, participant):
        shortfall = getattr(participant, "code_shortfall", None)
        return console_time(shortfall.since) if shortfall else "—"

    @admin.action(description=_("Block the selected advocates…"), permissions=["change"])
    def block_advocates(self, request, queryset):
        form = BlockForm(request.POST if action_confirmed(request) else None)
        if action_confirmed(request) and form.is_valid():
            blocked = voided = 0
            for participant in queryset.order_by("pk"):
                result = participant_block(
                    participant=participant,
                    void_codes=form.cleaned_data["void_codes"],
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                )
                blocked += result.newly_blocked
                voided += result.voided.voided if result.voided else 0
            text = ngettext(
                "Blocked %(count)s advocate: their codes no longer attribute orders.",
                "Blocked %(count)s advocates: their codes no longer attribute orders.",
                blocked,
            ) % {"count": f"{blocked:,}"}
            if form.cleaned_data["void_codes"]:
                text += " " + ngettext(
                    "Voided %(count)s code they held.", "Voided %(count)s codes they held.", voided
                ) % {"count": f"{voided:,}"}
            self.message_user(request, text, messages.SUCCESS)
            return None
        held = PromoCode.objects.held_by_any(queryset.values("pk")).count()
        count = queryset.count()
        facts = [
            ngettext(
                "%(count)s participant will be blocked: orders carrying their codes are "
                "rejected, and they get no new codes.",
                "%(count)s participants will be blocked: orders carrying their codes are "
                "rejected, and they get no new codes.",
                count,
            )
            % {"count": f"{count:,}"},
            ngettext(
                "They hold %(count)s referral code now.",
                "They hold %(count)s referral codes now.",
                held,
            )
            % {"count": f"{held:,}"},
        ]
        return action_confirmation(
            self,
            request,
            queryset,
            action="block_advocates",
            title=_("Block advocates"),
            facts=facts,
            submit=_("Block"),
            form=form,
        )

    @admin.action(description=_("Unblock the selected advocates"), permissions=["change"])
    def unblock_advocates(self, request, queryset):
        codes = 0
        count = 0
        for participant in queryset.filter(is_blocked=True).order_by("pk"):
            codes += participant_unblock(participant=participant)
            count += 1
        self.message_user(
            request,
            ngettext(
                "Unblocked %(count)s advocate; assigned them %(codes)s.",
                "Unblocked %(count)s advocates; assigned them %(codes)s.",
                count,
            )
            % {
                "count": f"{count:,}",
                "codes": ngettext("%(count)s new code", "%(count)s new codes", codes)
                % {"count": f"{codes:,}"},
            },
            messages.SUCCESS,
        )

    def get_readonly_fields(self, request, obj=None):
        # Moving a participant to another program or id would orphan their codes and referrals.
        if obj is not None:
            return ["program", "participant_id", *self.readonly_fields]
        return self.readonly_fields

    def _managed_participant(self, request, object_id):
        """The participant of a detail action and their page; 403 when unknown or in a program
        this manager does not manage."""
        participant = self.get_object(request, unquote(object_id))
        if participant is None:
            raise PermissionDenied
        return participant, reverse("admin:participants_participant_change", args=[participant.pk])

    @action(
        description=_("Add referral code"),
        url_path="add-referral-code",
        icon="add",
        variant=ActionVariant.PRIMARY,
        permissions=["change"],
    )
    def add_referral_code(self, request, object_id):
        """ "Add referral code": a new code for this advocate, outside the pool stock, after a
        confirmation page (GET shows it; its POST adds the code)."""
        participant, page = self._managed_participant(request, object_id)
        if request.method != "POST" or not action_confirmed(request):
            program = participant.program
            held = PromoCode.objects.held_by(participant).count()
            return action_confirmation(
                self,
                request,
                Participant.objects.filter(pk=participant.pk),
                action="add_referral_code",
                title=_("Add a referral code for %(participant)s") % {"participant": participant},
                facts=[
                    _(
                        "A new %(usage)s referral code like %(pattern)s (the referral pool's "
                        "pattern; ? is a random character) will be made for %(participant)s in "
                        "%(program)s, outside the pool's stock."
                    )
                    % {
                        "usage": program.get_code_usage_display().lower(),
                        "pattern": referral_code_pattern(program=program).shown,
                        "participant": participant,
                        "program": program.name,
                    },
                    ngettext(
                        "They hold %(count)s referral code now; the new one shows under Codes "
                        "and links on their page and in their widget.",
                        "They hold %(count)s referral codes now; the new one shows under Codes "
                        "and links on their page and in their widget.",
                        held,
                    )
                    % {"count": f"{held:,}"},
                ],
                warning=_(
                    "The shop must accept the code too: it is made here, not taken from the "
                    "codes your shop gave you, so add it to the shop's discount codes before the "
                    "advocate shares it."
                ),
                submit=_("Add the code"),
                submit_variant="primary",
            )
        try:
            code = participant_code_add(participant=participant)
        except (CannotAddCode, PromoCodesOff) as error:
            self.message_user(
                request, _("No code added: %(error)s") % {"error": error}, messages.ERROR
            )
        else:
            self.message_user(
                request,
                _(
                    "Added referral code %(code)s (%(usage)s) for %(participant)s. It shows "
                    "under Codes and links and in their widget. Add %(code)s to your shop's "
                    "discount codes too, so the shop accepts it."
                )
                % {
                    "code": code.code,
                    "usage": code.get_usage_display(),
                    "participant": participant,
                },
                messages.SUCCESS,
            )
        return HttpResponseRedirect(page)

    @action(
        description=_("Erase personal data"),
        url_path="erase",
        icon="person_remove",
        variant=ActionVariant.DANGER,
        permissions=["change"],
    )
    def erase_personal_data(self, request, object_id):
        """A privacy request, as `erase_participant` and the API's DELETE do it, after a
        confirmation page saying what goes and what stays."""
        participant, page = self._managed_participant(request, object_id)
        if participant.is_erased:
            self.message_user(request, _("Their personal data was already erased."), messages.INFO)
            return HttpResponseRedirect(page)
        if request.method != "POST" or not action_confirmed(request):
            held = PromoCode.objects.held_by(participant).count()
            return action_confirmation(
                self,
                request,
                Participant.objects.filter(pk=participant.pk),
                action="erase_personal_data",
                title=_("Erase the personal data of %(participant)s")
                % {"participant": participant},
                facts=[
                    _(
                        "Their e-mail, names and account id are blanked and their participant id "
                        "is replaced by an anonymous one; the e-mail is removed from their orders."
                    ),
                    ngettext(
                        "The %(count)s code they hold is voided; referrals, rewards and counts "
                        "are kept for the books.",
                        "The %(count)s codes they hold are voided; referrals, rewards and counts "
                        "are kept for the books.",
                        held,
                    )
                    % {"count": f"{held:,}"},
                    _("Afterwards the shop's id %(id)s is unknown here.")
                    % {"id": repr(participant.participant_id)},
                ],
                warning=_("This cannot be undone."),
                submit=_("Erase"),
            )
        try:
            result = participant_erase(
                program=participant.program, participant_id=participant.participant_id
            )
        except ParticipantNotFound:
            self.message_user(request, _("Their personal data was already erased."), messages.INFO)
        else:
            self.message_user(request, result.summary(), messages.SUCCESS)
        return HttpResponseRedirect(page)

    # Participant import (CSV, XLSX, …) with a preview, through participant_upsert_referred.
    # The previewed file waits in codes.upload_store under a signed per-user reference.
    resource_classes = [ParticipantImportResource]
    import_form_class = ParticipantImportForm
    confirm_form_class = ParticipantConfirmImportForm
    tmp_storage_class = _KeptUploadStorage

    def process_import(self, request, **kwargs):
        try:
            return super().process_import(request, **kwargs)
        except UploadExpired:
            message = _("The previewed file has expired or was already imported: upload it again.")
        except UploadStoreUnavailable:
            log.error("Participant import: the shared store (Redis) is unreachable", exc_info=True)
            message = _(
                "The shared store (Redis) is unreachable, so the previewed file cannot be "
                "read. Nothing was imported; upload it again in a few minutes."
            )
        self.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:participants_participant_import"))

    def get_import_form_kwargs(self, request):
        return {
            **super().get_import_form_kwargs(request),
            "programs": managed_programs(request.user),
        }

    def get_confirm_form_kwargs(self, request, import_form=None):
        return {
            **super().get_confirm_form_kwargs(request, import_form),
            "programs": managed_programs(request.user),
            "user": request.user,
        }

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["program"] = import_form.cleaned_data["program"].pk
            upload = import_form.cleaned_data["import_file"]
            try:
                initial["import_file_name"] = upload_keep(
                    chunks=upload.chunks(), user=request.user, pool=None, file_name=upload.name
                )
            except UploadStoreUnavailable:
                log.error(
                    "Participant import: the shared store (Redis) is unreachable", exc_info=True
                )
                initial["import_file_name"] = ""  # the confirmation is refused, naming why
                self.message_user(
                    request,
                    _(
                        "The file cannot be kept for confirmation: the shared store (Redis) is "
                        "unreachable. Upload it again in a few minutes."
                    ),
                    messages.ERROR,
                )
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        program = None
        if form is not None and hasattr(form, "cleaned_data"):
            program = form.cleaned_data.get("program")
        return {"program": program}


class BlockForm(forms.Form):
    void_codes = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Also void the referral codes they hold"),
        widget=UnfoldBooleanWidget,
        help_text=_("A voided code is kept for the record and never attributes again."),
    )
    reason = forms.CharField(
        max_length=255,
        required=False,
        label=_("Why"),
        help_text=_("Kept with each voided code."),
        widget=UnfoldAdminTextInputWidget(),
    )

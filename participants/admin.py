import logging
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportMixin
from import_export.forms import ConfirmImportForm
from import_export.tmp_storages import BaseStorage
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.import_export.forms import ImportForm
from unfold.decorators import action
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminTextInputWidget, UnfoldBooleanWidget

from audit.admin import AuditTrailAdminMixin
from codes.dashboard import DashboardFigure, dashboard_add_figures
from codes.models import PromoCode
from codes.selectors import referral_code_pattern
from codes.services import CannotAddCode, PromoCodesOff
from codes.upload_store import (
    UploadExpired,
    UploadStoreUnavailable,
    upload_claim,
    upload_keep,
    upload_verify,
)
from foundation.admin_links import admin_link
from foundation.wording import console_time
from programs.admin_confirm import action_confirmation, action_confirmed
from programs.admin_scoping import ProgramScopedAdminMixin, managed_programs
from programs.models import RewardKind

from .models import Participant, Referral, Reward, RewardStatus
from .resources import ParticipantImportResource
from .selectors import advocate_histories, codes_with_latest_referral
from .services import (
    ParticipantNotFound,
    RewardMoveRefused,
    participant_block,
    participant_code_add,
    participant_erase,
    participant_unblock,
    reward_cancel,
    reward_review_decide,
    rewards_mark_paid,
)

log = logging.getLogger(__name__)

# Links in lists and tables, coloured like the console's other links.


class ParticipantImportForm(ImportForm):
    program = forms.ModelChoiceField(
        queryset=None, label=_("Program"), help_text=_("Import into this program.")
    )
    field_order = ["program", "resource", "import_file", "format"]

    def __init__(self, formats, resources, *, programs=None, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["program"].queryset = programs


class ParticipantConfirmImportForm(ConfirmImportForm):
    """The confirmation's `import_file_name` is the preview's signed reference
    (codes.upload_store), valid for the user who previewed: never a file name or a path. The
    file's name shown and logged is the one the preview kept."""

    program = forms.ModelChoiceField(queryset=None, widget=forms.HiddenInput())

    def __init__(self, *args, programs=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs
        self.fields["original_file_name"].required = False
        self.user = user

    def clean_import_file_name(self):
        try:
            pending = upload_verify(reference=self.cleaned_data["import_file_name"], user=self.user)
        except UploadExpired:
            pending = None
        if pending is None or pending.pool_id is not None:  # a code upload's reference
            raise forms.ValidationError(
                _("This import is not yours or has expired: upload the file again.")
            )
        return pending

    def clean(self):
        cleaned = super().clean()
        pending = cleaned.get("import_file_name")
        if pending is not None:
            cleaned["original_file_name"] = pending.file_name
        return cleaned


class _KeptUploadStorage(BaseStorage):
    """django-import-export's temporary storage for the participant import, writing nothing
    to the system temp folder. The preview holds the file in memory for its own request (the
    admin keeps it in codes.upload_store once the preview is clean); the confirm step's `name`
    is the PendingUpload its form verified, claimed once from the store."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.data = None

    def save(self, data):
        self.data = data

    def read(self):
        if self.data is None:
            self.data = bytes(upload_claim(self.name))  # UploadExpired when gone
        return self.data

    def remove(self):
        self.data = None  # claiming removed the kept file


def _participant_link(participant_pk, text):
    url = reverse("admin:participants_participant_change", args=[participant_pk])
    return admin_link(url, text)


def _order_link(program_id, order_id):
    """The order's conversion, found by its id (the conversions app is not imported here)."""
    if not order_id:
        return "—"
    query = urlencode({"order_id": order_id, "program__id__exact": program_id})
    url = reverse("admin:conversions_conversion_changelist")
    return admin_link(f"{url}?{query}", order_id)


def _when(value):
    return console_time(value)


class ReadOnlyTabularInline(ProgramScopedAdminMixin, TabularInline):
    """A read-only table on the participant's page: one row per object, no label above it."""

    extra = 0
    can_delete = False
    hide_title = True
    show_count = True
    per_page = 20

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CodesAndLinksInline(ReadOnlyTabularInline):
    model = PromoCode
    fk_name = "holder"
    verbose_name = _("code")
    verbose_name_plural = _("Codes and links")
    fields = ["code", "usage", "shown_status", "assigned", "first_copied", "order", "friend"]
    readonly_fields = fields
    ordering = ["assigned_at", "id"]

    def get_queryset(self, request):
        return codes_with_latest_referral(super().get_queryset(request).select_related("pool"))

    @admin.display(description=_("Status"))
    def shown_status(self, code):
        return code.shown_status

    @admin.display(description=_("Assigned"))
    def assigned(self, code):
        return _when(code.assigned_at)

    @admin.display(description=_("First copied"))
    def first_copied(self, code):
        return _when(code.first_copied_at)

    @admin.display(description=_("Order"))
    def order(self, code):
        if (code.referrals_count or 0) > 1:
            if not code.redemption_count:
                return "—"
            return ngettext("%(count)s order", "%(count)s orders", code.redemption_count) % {
                "count": f"{code.redemption_count:,}"
            }
        return _order_link(code.program_id, code.referral_order or code.redeemed_order_id)

    @admin.display(description=_("Friend"))
    def friend(self, code):
        if (code.referrals_count or 0) > 1:
            url = reverse("admin:participants_referral_changelist")
            return admin_link(
                f"{url}?code__id__exact={code.pk}",
                ngettext("%(count)s friend", "%(count)s friends", code.referrals_count)
                % {"count": f"{code.referrals_count:,}"},
            )
        if code.referral_friend_pk is None:
            return "—"
        return _participant_link(code.referral_friend_pk, code.referral_friend)


class ReferralsInline(ReadOnlyTabularInline):
    model = Referral
    fk_name = "advocate"
    verbose_name = _("referral")
    verbose_name_plural = _("Referrals (friends this advocate referred)")
    fields = ["friend_shown", "code_shown", "status", "order", "created"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("friend", "code")

    @admin.display(description=_("Friend"))
    def friend_shown(self, referral):
        return _participant_link(referral.friend_id, referral.friend.shown_name)

    @admin.display(description=_("Code"))
    def code_shown(self, referral):
        return referral.code.code if referral.code_id else "—"

    @admin.display(description=_("Order"))
    def order(self, referral):
        return _order_link(referral.program_id, referral.order_id)

    @admin.display(description=_("Referred"))
    def created(self, referral):
        return _when(referral.created_at)


class RewardsInline(ReadOnlyTabularInline):
    model = Reward
    fk_name = "advocate"
    verbose_name = _("reward")
    verbose_name_plural = _("Rewards")
    fields = ["reward_link", "what", "status", "friend", "order", "created"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("referral__friend", "code")

    @admin.display(description=_("Reward"))
    def reward_link(self, reward):
        url = reverse("admin:participants_reward_change", args=[reward.pk])
        return admin_link(url, f"#{reward.pk}")

    @admin.display(description=_("What"))
    def what(self, reward):
        return reward_what(reward)

    @admin.display(description=_("Friend"))
    def friend(self, reward):
        friend = reward.referral.friend
        return _participant_link(friend.pk, friend.shown_name)

    @admin.display(description=_("Order"))
    def order(self, reward):
        return _order_link(reward.program_id, reward.referral.order_id)

    @admin.display(description=_("Earned"))
    def created(self, reward):
        return _when(reward.created_at)


def reward_what(reward):
    """What a reward gives, as one phrase: "10.00 EUR", "15% off" or "code THANKS1"."""
    if reward.kind == RewardKind.CREDIT and reward.amount is not None:
        return f"{reward.amount:,.2f} {reward.currency}"
    if reward.kind == RewardKind.PERCENT and reward.percent is not None:
        return f"{reward.percent.normalize():f}% off"
    if reward.code_id:
        hidden = " (reserved)" if reward.code.revealed_at is None else ""
        return f"code {reward.code.code}{hidden}"
    return reward.get_kind_display()


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


@admin.register(Referral)
class ReferralAdmin(ProgramScopedAdminMixin, ModelAdmin):
    list_display = ["friend_shown", "advocate", "code", "status", "order_id", "created_at"]
    list_filter = ["status", "program"]
    list_select_related = ["friend", "advocate", "code"]
    search_fields = ["friend__participant_id", "advocate__participant_id", "order_id"]
    raw_id_fields = ["advocate", "friend", "code"]

    @admin.display(description=_("Friend"), ordering="friend__participant_id")
    def friend_shown(self, referral):
        return referral.friend.shown_name

    def has_change_permission(self, request, obj=None):
        # Referrals change through conversions and reversals (their services), not by hand.
        return False

    def has_add_permission(self, request):
        return False


@dataclass(frozen=True)
class RewardColumns:
    """What a higher app adds to the rewards list, the review queue (participants knows
    nothing of orders; apps depend conversions → participants): `columns`, display callables
    taking a reward, shown after its status; `details`, shown on a reward's page;
    `annotate`, what they need, added to the list's queryset (evaluated after the LIMIT)."""

    columns: tuple
    details: tuple
    annotate: Callable[[QuerySet], QuerySet]


_REWARD_COLUMNS: list[RewardColumns] = []


def reward_admin_add_columns(extension: RewardColumns) -> None:
    """The hook: the one rewards list (RewardAdmin) shows these columns and details too."""
    if extension not in _REWARD_COLUMNS:
        _REWARD_COLUMNS.append(extension)


def review_queue_url(program_id=None) -> str:
    """The review queue: the rewards the review holds, of one program or of all one manages."""
    query = {"status__exact": RewardStatus.PENDING_REVIEW}
    if program_id is not None:
        query["program__id__exact"] = program_id
    return reverse("admin:participants_reward_changelist") + "?" + urlencode(query)


def _held_referrals_figures(request, program_ids):
    """The dashboard's count of referrals waiting for review, per program shown."""
    if not request.user.has_perm("participants.view_reward"):
        return {}
    held = dict(
        Reward.objects.filter(program_id__in=program_ids, status=RewardStatus.PENDING_REVIEW)
        .values("program_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("program_id", "n")
    )
    return {
        pk: [
            DashboardFigure(
                key="held_referrals",
                label=_("Referrals waiting for review"),
                count=held.get(pk, 0),
                url=review_queue_url(pk),
                attention=bool(held.get(pk)),
            )
        ]
        for pk in program_ids
    }


dashboard_add_figures(_held_referrals_figures)


@admin.register(Reward)
class RewardAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ModelAdmin):
    list_display = [
        "reward_shown",
        "advocate_shown",
        "friend",
        "order",
        "amount_shown",
        "shown_status",
        "date",
        "program",
    ]
    list_filter = ["status", "kind", "needs_review", "program"]
    list_select_related = ["program", "advocate", "code", "referral__friend"]
    raw_id_fields = ["advocate", "referral", "code"]
    # Every change of a reward's state goes through the rewards service (its allowed moves):
    # the page shows a reward, the actions change it.
    readonly_fields = [
        "program",
        "advocate",
        "referral",
        "kind",
        "amount",
        "currency",
        "percent",
        "code",
        "status",
        "reason_code",
        "needs_review",
        "available_at",
        "paid_at",
        "cancelled_at",
        "created_at",
    ]
    actions = ["mark_paid", "cancel_rewards", "approve_held", "deny_held"]
    actions_row = ["mark_paid_from_list"]
    actions_detail = ["mark_paid_here", "approve_this", "deny_this"]

    @admin.display(description=_("Reward"), ordering="pk")
    def reward_shown(self, reward):
        return f"#{reward.pk}"

    @admin.display(description=_("Advocate"), ordering="advocate__participant_id")
    def advocate_shown(self, reward):
        link = _participant_link(reward.advocate_id, reward.advocate.participant_id)
        history = getattr(reward, "advocate_history", None)
        if history is None:
            return link
        return format_html(
            '<div>{}<div class="text-xs text-base-500 advocate-history">{}</div></div>',
            link,
            " · ".join(history.words()),
        )

    @admin.display(description=_("Advocate's history"))
    def advocate_history_shown(self, reward):
        history = advocate_histories(advocate_ids=[reward.advocate_id])[reward.advocate_id]
        return format_html_join(
            "", '<div class="advocate-history">{}</div>', ((w,) for w in history.words())
        )

    def get_changelist_instance(self, request):
        # Each advocate's history under their name: one set of grouped queries for the page.
        changelist = super().get_changelist_instance(request)
        rewards = list(changelist.result_list)
        histories = advocate_histories(advocate_ids=[r.advocate_id for r in rewards])
        for reward in rewards:
            reward.advocate_history = histories.get(reward.advocate_id)
        return changelist

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        at = shown.index("shown_status") + 1
        for extension in _REWARD_COLUMNS:
            shown[at:at] = extension.columns
            at += len(extension.columns)
        return shown

    def get_queryset(self, request):
        rewards = super().get_queryset(request)
        for extension in _REWARD_COLUMNS:
            rewards = extension.annotate(rewards)
        return rewards

    def _details(self):
        details = [field for extension in _REWARD_COLUMNS for field in extension.details]
        return [*details, "advocate_history_shown"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self._details()]

    def get_fields(self, request, obj=None):
        # What a manager decides a held reward on comes right after its status.
        details = self._details()
        fields = [f for f in super().get_fields(request, obj) if f not in details]
        at = fields.index("status") + 1 if "status" in fields else len(fields)
        return [*fields[:at], *details, *fields[at:]]

    @admin.display(description=_("Friend"), ordering="referral__friend__participant_id")
    def friend(self, reward):
        friend = reward.referral.friend
        return _participant_link(friend.pk, friend.shown_name)

    @admin.display(description=_("Order"), ordering="referral__order_id")
    def order(self, reward):
        return _order_link(reward.program_id, reward.referral.order_id)

    @admin.display(description=_("Amount"))
    def amount_shown(self, reward):
        return reward_what(reward)

    @admin.display(description=_("Status"), ordering="status")
    def shown_status(self, reward):
        label = reward.get_status_display()
        if reward.needs_review:
            return _("%(status)s · needs review") % {"status": label}
        return label

    @admin.display(description=_("Date"), ordering="created_at")
    def date(self, reward):
        return console_time(reward.created_at)

    @admin.display(description=_("Code"))
    def reward_code(self, reward):
        if reward.code_id is None:
            return "—"
        if reward.code.revealed_at is None:
            return _("%(code)s (reserved)") % {"code": reward.code.code}
        return reward.code.code

    @action(description=_("Mark paid"), url_path="mark-paid", icon="paid", permissions=["pay"])
    def mark_paid_from_list(self, request, object_id):
        return self._mark_one_paid(
            request, object_id, back=reverse("admin:participants_reward_changelist")
        )

    @action(
        description=_("Mark paid"),
        url_path="mark-paid-here",
        icon="paid",
        variant=ActionVariant.PRIMARY,
        permissions=["pay"],
    )
    def mark_paid_here(self, request, object_id):
        back = reverse("admin:participants_reward_change", args=[unquote(object_id)])
        return self._mark_one_paid(request, object_id, back=back)

    def _mark_one_paid(self, request, object_id, *, back):
        """Mark one reward paid after a confirmation page; a reward that cannot be paid
        (only available ones can) is refused with the reason, before any page."""
        reward = self.get_object(request, unquote(object_id))
        if reward is None:  # unknown, or in a program this manager does not manage
            raise PermissionDenied
        if reward.status != RewardStatus.AVAILABLE:
            self.message_user(
                request,
                _("Reward #%(id)s is %(status)s: only an available reward can be marked paid.")
                % {"id": reward.pk, "status": reward.get_status_display().lower()},
                messages.WARNING,
            )
            return HttpResponseRedirect(back)
        rewards = Reward.objects.filter(pk=reward.pk)
        if request.method != "POST" or not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                rewards,
                action="mark_paid",
                title=_("Mark reward #%(id)s paid") % {"id": reward.pk},
                facts=[
                    _("%(reward)s for %(advocate)s (who referred %(friend)s) will be marked paid.")
                    % {
                        "reward": reward_what(reward),
                        "advocate": reward.advocate,
                        "friend": reward.referral.friend.shown_name,
                    },
                    _(
                        "A paid reward cannot be cancelled; if its order is reversed later, it is "
                        "flagged for review."
                    ),
                ],
                submit=_("Mark paid"),
            )
        result = rewards_mark_paid(rewards=rewards)
        if result.paid:
            self.message_user(
                request, _("Reward #%(id)s marked paid.") % {"id": reward.pk}, messages.SUCCESS
            )
        else:
            self.message_user(request, " ".join(result.refused), messages.WARNING)
        return HttpResponseRedirect(back)

    def has_decide_permission(self, request, object_id=None):
        """Approve and deny are offered on a reward's page while the review holds it."""
        if not self.has_change_permission(request):
            return False
        if object_id is None:
            return True
        reward = self.get_object(request, unquote(str(object_id)))
        return reward is not None and reward.status == RewardStatus.PENDING_REVIEW

    @action(
        description=_("Approve…"),
        url_path="approve",
        icon="check",
        variant=ActionVariant.PRIMARY,
        permissions=["decide"],
    )
    def approve_this(self, request, object_id):
        return self._decide_one(request, object_id, approve=True)

    @action(description=_("Deny…"), url_path="deny", icon="block", permissions=["decide"])
    def deny_this(self, request, object_id):
        return self._decide_one(request, object_id, approve=False)

    def _decide_one(self, request, object_id, *, approve):
        """The held referral's page decides on it after the same confirmation as the list's
        (a reason kept in the audit trail), then goes back to the review queue."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        reward = self.get_object(request, unquote(object_id))
        if reward is None:  # unknown, or in a program this manager does not manage
            raise PermissionDenied
        rewards = Reward.objects.filter(pk=reward.pk)
        response = self._review_decision(request, rewards, approve=approve)
        return response or HttpResponseRedirect(review_queue_url(reward.program_id))

    def has_pay_permission(self, request, object_id=None):
        """ "Mark paid" is offered where it can work: to those who may change rewards, and on a
        reward's page only while the reward is available (a paid, cancelled or pending one
        would be refused)."""
        if not self.has_change_permission(request):
            return False
        if object_id is None:
            return True
        reward = self.get_object(request, unquote(str(object_id)))
        return reward is not None and reward.status == RewardStatus.AVAILABLE

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field of a reward is read-only (its actions change it): no Save buttons.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_save_as_new": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Mark the selected rewards paid"), permissions=["change"])
    def mark_paid(self, request, queryset):
        result = rewards_mark_paid(rewards=queryset)
        if result.paid:
            self.message_user(
                request,
                ngettext(
                    "Marked %(count)s reward paid.", "Marked %(count)s rewards paid.", result.paid
                )
                % {"count": f"{result.paid:,}"},
                messages.SUCCESS,
            )
        if result.refused:
            shown = " ".join(result.refused[:5])
            more = ""
            if len(result.refused) > 5:
                more = " " + _("(and %(count)s more)") % {"count": len(result.refused) - 5}
            self.message_user(
                request,
                ngettext(
                    "%(count)s reward not marked paid: only available rewards can be.",
                    "%(count)s rewards not marked paid: only available rewards can be.",
                    len(result.refused),
                )
                % {"count": f"{len(result.refused):,}"}
                + f" {shown}{more}",
                messages.WARNING,
            )

    @admin.action(description=_("Approve the selected held rewards…"), permissions=["change"])
    def approve_held(self, request, queryset):
        return self._review_decision(request, queryset, approve=True)

    @admin.action(description=_("Deny the selected held rewards…"), permissions=["change"])
    def deny_held(self, request, queryset):
        return self._review_decision(request, queryset, approve=False)

    def _review_decision(self, request, queryset, *, approve):
        """Approve or deny, with a reason kept in the audit trail, the rewards the program's
        review holds (status pending review); any other selected reward is left as it is."""
        form = ReviewReasonForm(request.POST if action_confirmed(request) else None)
        held = queryset.filter(status=RewardStatus.PENDING_REVIEW)
        if action_confirmed(request) and form.is_valid():
            decided = 0
            for reward in held.order_by("pk"):
                reward_review_decide(
                    reward=reward, approve=approve, reason=form.cleaned_data["reason"]
                )
                decided += 1
            if approve:
                done = ngettext(
                    "Approved %(n)s held reward.", "Approved %(n)s held rewards.", decided
                )
            else:
                done = ngettext("Denied %(n)s held reward.", "Denied %(n)s held rewards.", decided)
            self.message_user(request, done % {"n": f"{decided:,}"}, messages.SUCCESS)
            return None
        count = held.count()
        others = queryset.count() - count
        if approve:
            will = ngettext(
                "%(n)s held reward will be approved: it enters the program's review period (or "
                "is available at once without one).",
                "%(n)s held rewards will be approved: each enters the program's review period "
                "(or is available at once without one).",
                count,
            )
        else:
            will = ngettext(
                "%(n)s held reward will be denied: it is cancelled. The referral and the "
                "redeemed code stay.",
                "%(n)s held rewards will be denied: each is cancelled. The referral and the "
                "redeemed code stay.",
                count,
            )
        facts = [will % {"n": f"{count:,}"}]
        if others:
            facts.append(
                ngettext(
                    "%(n)s other reward is not held for review: left as is.",
                    "%(n)s other rewards are not held for review: left as is.",
                    others,
                )
                % {"n": f"{others:,}"}
            )
        return action_confirmation(
            self,
            request,
            queryset,
            action="approve_held" if approve else "deny_held",
            title=_("Approve held rewards") if approve else _("Deny held rewards"),
            facts=facts,
            submit=_("Approve") if approve else _("Deny"),
            form=form,
        )

    @admin.action(description=_("Cancel the selected rewards…"), permissions=["change"])
    def cancel_rewards(self, request, queryset):
        if not action_confirmed(request):
            count = queryset.count()
            facts = [
                ngettext(
                    "%(count)s reward will be cancelled. A fuel-tank code not yet shown to its "
                    "advocate goes back to the tank; one already shown is flagged for review.",
                    "%(count)s rewards will be cancelled. A fuel-tank code not yet shown to its "
                    "advocate goes back to the tank; one already shown is flagged for review.",
                    count,
                )
                % {"count": f"{count:,}"},
                _("Paid rewards cannot be cancelled and are left as they are."),
            ]
            return action_confirmation(
                self,
                request,
                queryset,
                action="cancel_rewards",
                title=_("Cancel rewards"),
                facts=facts,
                warning=_("A cancelled reward can never be made available again."),
                submit=_("Cancel these rewards"),
            )
        cancelled = 0
        refused = []
        for reward in queryset.exclude(status=RewardStatus.CANCELLED).order_by("pk"):
            try:
                reward_cancel(reward=reward)
            except RewardMoveRefused as error:
                refused.append(str(error))
            else:
                cancelled += 1
        self.message_user(
            request,
            ngettext("Cancelled %(count)s reward.", "Cancelled %(count)s rewards.", cancelled)
            % {"count": f"{cancelled:,}"},
            messages.SUCCESS,
        )
        if refused:
            self.message_user(request, " ".join(refused[:5]), messages.WARNING)


class ReviewReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        label=_("Why"),
        help_text=_("Kept in the audit trail with each decision."),
        widget=UnfoldAdminTextInputWidget(),
    )


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

"""The one mechanism that keeps a program manager inside the programs they manage.

Superusers see everything; any other staff user sees only rows of programs they manage, on every
admin page: lists, list filters, form choices, actions and exports (which run on the list's
queryset), autocomplete and search. Every ModelAdmin and inline of the project mixes in
ProgramScopedAdminMixin (or SuperuserOnlyAdminMixin); a system check (programs.checks) refuses an
admin registered without either.

A model's way to its program is found from its foreign keys (`program`, `pool__program`,
`conversion__program`, …), so the programs app needs to know nothing of the apps above it; an
admin may still name it with `program_path`.
"""

from collections import deque
from functools import cache

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from unfold.contrib.filters.admin import RelatedDropdownFilter

from .models import Program

MAX_PATH_DEPTH = 3


def managed_programs(user) -> models.QuerySet:
    if user.is_superuser:
        return Program.objects.all()
    return Program.objects.filter(managers=user)


@cache
def program_path(model) -> str | None:
    """The lookup from `model` to its Program ("" for Program itself), through its forward
    foreign keys, shortest first; None when the model belongs to no program (a user)."""
    if model is Program:
        return ""
    queue = deque([(model, "")])
    seen = {model}
    while queue:
        current, prefix = queue.popleft()
        for field in current._meta.get_fields():
            if not (field.many_to_one or field.one_to_one) or field.auto_created:
                continue
            if not getattr(field, "concrete", False) or field.related_model is None:
                continue
            lookup = f"{prefix}{field.name}"
            if field.related_model is Program:
                return lookup
            if field.related_model not in seen and lookup.count("__") < MAX_PATH_DEPTH - 1:
                seen.add(field.related_model)
                queue.append((field.related_model, f"{lookup}__"))
    return None


def scope_queryset(queryset: models.QuerySet, user, path: str | None = None) -> models.QuerySet:
    """`queryset` cut to the rows of programs `user` manages (everything for a superuser).

    A model of no program is cut to nothing, except users: a manager sees the managers of their
    own programs (themselves included), nobody else.
    """
    if user.is_superuser:
        return queryset
    model = queryset.model
    path = program_path(model) if path is None else path
    # `IN (subquery)` rather than a join on the managers: no duplicate rows, no DISTINCT over a
    # million codes, and the program column's index serves it.
    programs = Program.objects.filter(managers=user).values("pk")
    if path is not None:
        return queryset.filter(**{f"{path}__in" if path else "pk__in": programs})
    if model is get_user_model():
        colleagues = models.Q(managed_programs__in=programs) | models.Q(pk=user.pk)
        return queryset.filter(pk__in=model._default_manager.filter(colleagues).values("pk"))
    return queryset.none()


class ScopedChoicesMixin:
    """Mixed into a RelatedFieldListFilter (Django's or unfold's): it offers only the manager's
    programs, pools, batches, participants, … ."""

    def field_choices(self, field, request, model_admin):
        if request.user.is_superuser:
            return super().field_choices(field, request, model_admin)
        related = field.related_model
        allowed = scope_queryset(related._default_manager.all(), request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to={"pk__in": allowed.values("pk")},
        )


class ScopedRelatedDropdownFilter(ScopedChoicesMixin, RelatedDropdownFilter):
    pass


@cache
def _scoped_filter_class(filter_class):
    return type(f"Scoped{filter_class.__name__}", (ScopedChoicesMixin, filter_class), {})


def scoped_list_filter(model, spec):
    """`spec` (a list_filter entry) with its choices cut to the manager's rows.

    A relation named by a string becomes an unfold dropdown of scoped choices; a
    (field, RelatedFieldListFilter subclass) pair keeps its class, scoped. SimpleListFilters
    choose their own lookups: they must scope them (the admin walk test checks they do).
    """
    if isinstance(spec, type):
        return spec  # a SimpleListFilter class alone
    field_path, filter_class = (spec, None) if isinstance(spec, str) else (spec[0], spec[1])
    if not isinstance(field_path, str):
        return spec  # a SimpleListFilter class alone
    try:
        field = get_fields_from_path(model, field_path)[-1]
    except (FieldDoesNotExist, admin.utils.NotRelationField):
        return spec
    if not field.is_relation:
        return spec
    if filter_class is None:
        return (field_path, ScopedRelatedDropdownFilter)
    if issubclass(filter_class, admin.RelatedFieldListFilter) and not issubclass(
        filter_class, ScopedChoicesMixin
    ):
        return (field_path, _scoped_filter_class(filter_class))
    return spec


class ProgramScopedAdminMixin:
    """Mix into every ModelAdmin and inline whose rows belong to a program (before unfold's
    ModelAdmin). `program_path` overrides the lookup found from the model's foreign keys."""

    program_path = None
    list_filter_submit = True  # unfold's dropdown filters apply with the sidebar's button

    def scope(self, request, queryset):
        path = self.program_path if self.program_path is not None else None
        return scope_queryset(queryset, request.user, path)

    def get_queryset(self, request):
        return self.scope(request, super().get_queryset(request))

    def _scoped_choices(self, db_field, request, kwargs):
        if request.user.is_superuser:
            return kwargs
        queryset = kwargs.get("queryset")
        if queryset is None:
            queryset = self.get_field_queryset(None, db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.all()
        return {**kwargs, "queryset": scope_queryset(queryset, request.user)}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs = self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        return [scoped_list_filter(self.model, spec) for spec in filters]

    def get_search_results(self, request, queryset, search_term):
        # Autocomplete calls this with the admin's queryset; scoped again in case a caller
        # passes another one.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return self.scope(request, queryset), may_have_duplicates


class SuperuserOnlyAdminMixin:
    """For admin pages no program manager may open (users, groups, the whole audit trail),
    whatever permissions they are given."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


def user_pages_open(request) -> bool:
    """Whether the user of `request` can open the console's user pages (superusers only): a
    user named on a page (who uploaded a batch, who voided a code) is a link only for them."""
    user_admin = admin.site._registry.get(get_user_model())
    return bool(user_admin and user_admin.has_view_permission(request))


class UserNamesMixin:
    """Show the user foreign keys named in `user_fields` as a plain name, without a link to a
    page that would answer 403, to those who cannot open user pages. The admin defines a
    display method `<field>_name` for each."""

    user_fields: tuple[str, ...] = ()

    def get_fields(self, request, obj=None):
        names = {f"{f}_name": f for f in self.user_fields}
        fields = [f for f in super().get_fields(request, obj) if f not in names]
        if user_pages_open(request):
            return fields
        return [f"{f}_name" if f in self.user_fields else f for f in fields]

    def get_readonly_fields(self, request, obj=None):
        shown = [f"{f}_name" for f in self.user_fields]
        return [*super().get_readonly_fields(request, obj), *shown]


def user_name(user) -> str:
    return user.get_username() if user is not None else "—"

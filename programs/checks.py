"""A registered admin page that is not program-scoped is an error: a manager of one program
would see another's rows on it (programs.admin_scoping)."""

from django.contrib import admin
from django.core.checks import Error, Tags, register

from .admin_scoping import ProgramScopedAdminMixin, SuperuserOnlyAdminMixin


def _scoped(admin_class) -> bool:
    return issubclass(admin_class, ProgramScopedAdminMixin | SuperuserOnlyAdminMixin) or getattr(
        admin_class, "superusers_only", False
    )


@register(Tags.admin)
def check_admin_scoping(app_configs=None, **kwargs):
    errors = []
    for model, model_admin in admin.site._registry.items():
        classes = [type(model_admin), *model_admin.inlines]
        for admin_class in classes:
            if not _scoped(admin_class):
                errors.append(
                    Error(
                        f"{admin_class.__module__}.{admin_class.__qualname__} (for "
                        f"{model._meta.label}) is not program-scoped.",
                        hint="Mix in programs.admin_scoping.ProgramScopedAdminMixin (or "
                        "SuperuserOnlyAdminMixin for a page no program manager may open).",
                        obj=admin_class,
                        id="programs.E001",
                    )
                )
    return errors

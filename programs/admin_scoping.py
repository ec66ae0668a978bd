"""Admin helpers that keep a program manager inside the programs they manage.

Superusers see everything; any other staff user sees only rows of programs they manage.
Other apps' admin classes mix this in; `program_path` names the lookup to the program.
"""

from .models import Program


def managed_programs(user):
    if user.is_superuser:
        return Program.objects.all()
    return Program.objects.filter(managers=user)


class ProgramScopedAdminMixin:
    program_path = "program"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.program_path}__managers": request.user}).distinct()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Program:
            kwargs["queryset"] = managed_programs(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

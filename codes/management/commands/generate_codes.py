from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from codes.management.validity import add_validity_arguments, validity_from_options
from codes.services import (
    DEFAULT_GENERATED_LENGTH,
    CodeSpaceTooSmall,
    PromoCodesOff,
    batch_generate,
    pool_get_or_create_referral,
)
from programs.management.lookup import program_from_option


class Command(AuditedCommand):
    help = "Generate random codes (no look-alike characters) into a program's referral pool."

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, help="The program's slug.")
        parser.add_argument("--count", required=True, type=int)
        parser.add_argument("--prefix", default="")
        parser.add_argument(
            "--length",
            type=int,
            default=DEFAULT_GENERATED_LENGTH,
            help=f"Random characters after the prefix (default {DEFAULT_GENERATED_LENGTH}).",
        )
        add_validity_arguments(parser)

    def handle(self, *args, program, count, prefix, length, **options):
        program_obj = program_from_option(program)
        validity = validity_from_options(options)
        pool = pool_get_or_create_referral(program=program_obj)
        try:
            batch = batch_generate(pool=pool, count=count, prefix=prefix, length=length, **validity)
        except (PromoCodesOff, CodeSpaceTooSmall, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Batch {batch.pk} into {pool}: {batch.codes_added:,} codes generated.")

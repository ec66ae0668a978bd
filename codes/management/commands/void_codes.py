from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from codes.models import Batch
from codes.parsing import UnreadableFile, file_format, read_rows
from codes.services import codes_void
from programs.management.lookup import program_from_option

NOT_FOUND_SHOWN = 20


class Command(AuditedCommand):
    help = (
        "Void codes of a program: named ones, the codes of a file (any upload format), or a "
        "whole batch. A voided code is never assigned again and an order carrying it is "
        "rejected; advocates who held one are topped up at once. Cannot be undone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, metavar="SLUG")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--batch", type=int, metavar="ID", help="Every code of this batch.")
        source.add_argument("--file", metavar="FILE", help="The codes of this file.")
        parser.add_argument("--reason", default="", help="Kept with each voided code.")
        parser.add_argument("codes", nargs="*", metavar="CODE")

    def handle(self, *args, program, batch, file, reason, codes, **options):
        found = program_from_option(program, promo_codes=False)
        if sum(bool(x) for x in (batch, file, codes)) != 1:
            raise CommandError("Name the codes to void: --batch ID, --file FILE or CODE ….")
        note = (reason.strip() or "void_codes command")[:255]
        if batch:
            batch_obj = Batch.objects.filter(pk=batch, pool__program=found).first()
            if batch_obj is None:
                raise CommandError(f"Program {found.slug!r} has no batch {batch}.")
            result = codes_void(program=found, batch=batch_obj, reason=note)
        else:
            if file:
                codes = self._codes_of(file)
            result = codes_void(program=found, codes=codes, reason=note)
        for text in result.not_found[:NOT_FOUND_SHOWN]:
            self.stderr.write(f"not a code of {found.slug}: {text!r}")
        if len(result.not_found) > NOT_FOUND_SHOWN:
            self.stderr.write(f"… {len(result.not_found) - NOT_FOUND_SHOWN:,} more not found.")
        self.stdout.write(f"{found.slug}: {result.summary()}")

    def _codes_of(self, path):
        try:
            fmt = file_format(path)
            with open(path, "rb") as stream:
                return [row.code or str(row.value) for row in read_rows(stream, fmt)]
        except UnreadableFile as error:
            raise CommandError(f"{path}: {error} Nothing was voided.") from None
        except OSError as error:
            raise CommandError(f"Cannot open {path}: {error.strerror}.") from None

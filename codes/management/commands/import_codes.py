import os
import sys

from django.conf import settings
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from codes.management.validity import add_validity_arguments, validity_from_options
from codes.models import Pool
from codes.parsing import (
    WHOLE_FILE_FORMATS,
    NoCodeColumn,
    UnreadableFile,
    file_format,
    skipped_phrases,
)
from codes.services import PromoCodesOff, batch_import, pool_get_or_create_referral
from foundation.wording import counted
from programs.management.lookup import program_from_option

REFUSALS_SHOWN = 20


class Command(AuditedCommand):
    help = (
        "Import a file of codes (CSV, TSV, TXT, XLSX, XLS, ODS or JSON) into a program's "
        "referral pool, or into --pool, as one batch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, help="The program's slug.")
        parser.add_argument("--pool", help="A pool of the program (default: its referral pool).")
        parser.add_argument(
            "--progress", action="store_true", help="Show progress even when not on a terminal."
        )
        parser.add_argument(
            "--column",
            metavar="NAME|NUMBER",
            help="The codes' column: its header (any case) or its number, 1 for the first "
            "(default: the column headed code, promo code, coupon…, or a platform export's).",
        )
        parser.add_argument(
            "--no-header",
            action="store_true",
            help="The first row is a code, not a header.",
        )
        add_validity_arguments(parser)
        parser.add_argument("file")

    def handle(self, *args, program, pool, progress, file, column, no_header, **options):
        program_obj = program_from_option(program)
        validity = validity_from_options(options)
        if pool:
            pool_obj = Pool.objects.filter(program=program_obj, name=pool).first()
            if pool_obj is None:
                names = ", ".join(repr(p.name) for p in program_obj.pools.all()) or "none"
                raise CommandError(f"Program {program!r} has no pool {pool!r} (pools: {names}).")
        else:
            pool_obj = pool_get_or_create_referral(program=program_obj)
        try:
            fmt = file_format(file)
            size = os.path.getsize(file)
        except UnreadableFile as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"Cannot open {file}: {exc.strerror}.") from None
        limit = settings.CODES_WHOLE_FILE_MAX_BYTES
        if fmt in WHOLE_FILE_FORMATS and size > limit:
            raise CommandError(
                f".{fmt} files are read whole and this one is {size:,} bytes (at most "
                f"{limit:,}): save it as CSV or XLSX, which are streamed."
            )
        if column is not None:
            column = column.strip()
            if column.isdigit():
                if int(column) < 1:
                    raise CommandError("--column 0: columns are numbered from 1.")
                column = int(column) - 1
            elif not column:
                raise CommandError("--column needs a header name or a number (1 is the first).")
        show = progress or sys.stderr.isatty()

        def on_progress(rows):
            if show:
                self.stderr.write(f"\r{rows:,} rows read…", ending="")
                self.stderr.flush()

        methods = []
        try:
            with open(file, "rb") as stream:
                batch = batch_import(
                    pool=pool_obj,
                    stream=stream,
                    file_name=file,
                    on_progress=on_progress,
                    on_method=methods.append,
                    column=column,
                    no_header=no_header,
                    **validity,
                )
        except NoCodeColumn as exc:
            if show:
                self.stderr.write("")
            raise CommandError(
                f"{file}: {exc} Choose the codes' column with --column NAME or --column NUMBER "
                f"(the columns are {_numbered(exc.columns)}), or pass --no-header if the first "
                "row is a code. Nothing was imported."
            ) from None
        except (UnreadableFile, PromoCodesOff) as exc:
            if show:
                self.stderr.write("")
            raise CommandError(f"{file}: {exc} Nothing was imported.") from None
        if show:
            self.stderr.write("")
        for error in batch.errors[:REFUSALS_SHOWN]:
            self.stderr.write(f"line {error['line']}: {error['value']!r}: {error['reason']}")
        refused = batch.invalid_rows + batch.duplicates_in_file + batch.already_in_program
        if refused > REFUSALS_SHOWN:
            self.stderr.write(f"… {refused - REFUSALS_SHOWN:,} more refused rows (see the batch).")
        self.stdout.write(
            f"Batch {batch.pk} into {pool_obj}: {batch.rows_read:,} rows read, "
            f"{counted(batch.codes_added, 'code')} added, "
            f"{counted(batch.duplicates_in_file, 'duplicate')} in the file, "
            f"{batch.already_in_program:,} already in the program, "
            f"{counted(batch.invalid_rows, 'invalid row')}"
            + "".join(f", {phrase}" for phrase in skipped_phrases(batch.skipped))
            + "".join(f"; loaded {method}" for method in methods)
            + "."
        )


def _numbered(columns):
    return ", ".join(f"{n} “{label}”" for n, label in enumerate(columns, 1))

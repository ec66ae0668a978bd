import sys

from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from codes.exports import csv_lines, write_xlsx
from codes.selectors import codes_export_rows
from programs.management.lookup import program_from_option


class Command(AuditedCommand):
    help = "Export a program's codes as CSV or XLSX (to stdout, or to -o FILE)."

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, help="The program's slug.")
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("-o", "--output", help="File to write (default: standard output).")

    def handle(self, *args, program, format, output, **options):
        program_obj = program_from_option(program, promo_codes=False)
        counted = _Counter(codes_export_rows(program=program_obj))
        try:
            if format == "xlsx":
                if not output and sys.stdout.isatty():
                    raise CommandError("XLSX is binary: give -o FILE or redirect the output.")
                write_xlsx(counted, output or sys.stdout.buffer)
            elif output:
                with open(output, "w", newline="", encoding="utf-8") as target:
                    target.writelines(csv_lines(counted))
            else:
                sys.stdout.writelines(csv_lines(counted))
        except OSError as exc:
            raise CommandError(
                f"Cannot write {output or 'standard output'}: {exc.strerror}."
            ) from None
        summary = f"Exported {counted.count:,} codes of {program_obj.slug} as {format.upper()}"
        # The summary goes to stderr when the export itself is on stdout.
        (self.stdout if output else self.stderr).write(
            summary + (f" to {output}." if output else ".")
        )


class _Counter:
    def __init__(self, rows):
        self.rows = rows
        self.count = 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row

from audit.commands import AuditedCommand
from codes.services import codes_top_up_short
from foundation.wording import counted
from programs.management.lookup import program_from_option
from programs.models import Program


class Command(AuditedCommand):
    help = (
        "Top up advocates short of codes (after a batch landed), in the order they fell short. "
        "Safe to re-run and to run twice at once; stops at a program whose pool is empty."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", metavar="SLUG", help="Only this program.")

    def handle(self, *args, program=None, **options):
        programs = Program.objects.filter(promo_codes_enabled=True).order_by("slug")
        if program:
            programs = [program_from_option(program)]
        advocates = codes = 0
        emptied = []
        for each in programs:

            def progress(run, slug=each.slug):
                self.stdout.write(
                    f"  {slug}: {counted(run.advocates_seen, 'advocate')} short looked at, "
                    f"{counted(run.codes_assigned, 'code')} assigned"
                )

            run = codes_top_up_short(program=each, progress=progress)
            advocates += run.advocates_topped_up
            codes += run.codes_assigned
            if run.pool_empty:
                emptied.append(each.slug)
                self.stdout.write(f"  {each.slug}: pool empty, the rest wait for the next batch")
        summary = f"Assigned {counted(codes, 'code')} to {counted(advocates, 'advocate')}."
        if emptied:
            summary += f" Pool empty, advocates still short in: {', '.join(emptied)}."
        self.stdout.write(self.style.SUCCESS(summary))

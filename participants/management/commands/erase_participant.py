from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from participants.services import ParticipantNotFound, participant_erase
from programs.management.lookup import program_from_option


class Command(AuditedCommand):
    help = (
        "Erase a participant's personal data (a privacy request): e-mail, names and account id "
        "blanked, the id replaced by an opaque tombstone, the referral codes they hold voided, "
        "the customer's e-mail removed from their orders. Referrals, rewards and redeemed codes "
        "are kept for the books. Cannot be undone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, metavar="SLUG")
        parser.add_argument("participant_id", metavar="ID", help="The brand's participant id.")

    def handle(self, *args, program, participant_id, **options):
        found = program_from_option(program, promo_codes=False)
        try:
            result = participant_erase(program=found, participant_id=participant_id)
        except ParticipantNotFound:
            raise CommandError(
                f"Program {found.slug!r} has no participant {participant_id!r}: never created, "
                "or already erased (an erased participant's id is forgotten). Nothing was changed."
            ) from None
        self.stdout.write(f"{found.slug}: {result.summary()}")

from django.contrib.auth import get_user_model
from django.db import transaction

from audit.commands import AuditedCommand

# The demo touches every app, so it lives in the top one (conversions), which may import all.
from codes import services as codes_services
from foundation.wording import counted
from participants import services as participant_services
from programs.models import CodeUsage, Program
from programs.services import program_create, widget_apply_promo_code_template

DEMO_SLUG = "demo"
DEMO_CODES = 300
DEMO_PARTICIPANTS = [
    ("alice", "alice@example.com", "Alice", "Archer"),
    ("bob", "bob@example.com", "Bob", "Baker"),
    ("carol", "carol@example.com", "Carol", "Cooper"),
]
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"


class Command(AuditedCommand):
    help = (
        "Load the demo: program 'demo' (single-use, 3 codes per advocate), a batch of codes, a "
        "few participants and a local admin login. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-admin", action="store_true", help="Do not create the local admin login"
        )

    @transaction.atomic
    def handle(self, *args, no_admin, **options):
        program = Program.objects.filter(slug=DEMO_SLUG).first()
        created_program = program is None
        if created_program:
            program = program_create(
                slug=DEMO_SLUG,
                name="Demo shoes",
                promo_codes_enabled=True,
                code_usage=CodeUsage.SINGLE,
                codes_per_advocate=3,
                low_stock_threshold=50,
                low_stock_recipients="stock@example.com",
                friend_offer_text="Give your friends 20% off their first pair of shoes.",
                widget_allowed_origins="http://127.0.0.1:8000\nhttp://localhost:8000",
            )
            widget_apply_promo_code_template(program=program)
        pool = codes_services.pool_get_or_create_referral(program=program)
        added = 0
        if not pool.batches.exists():
            batch = codes_services.batch_generate(pool=pool, count=DEMO_CODES, prefix="DEMO-")
            added = batch.codes_added
        new_people = 0
        for participant_id, email, first, last in DEMO_PARTICIPANTS:
            if program.participants.filter(participant_id=participant_id).exists():
                continue
            participant_services.participant_upsert(
                program=program,
                participant_id=participant_id,
                email=email,
                first_name=first,
                last_name=last,
            )
            new_people += 1
        admin_note = ""
        if not no_admin:
            User = get_user_model()
            if not User.objects.filter(username=ADMIN_USERNAME).exists():
                User.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", ADMIN_PASSWORD)
                admin_note = f", admin login {ADMIN_USERNAME}/{ADMIN_PASSWORD} created"
        if created_program or added or new_people or admin_note:
            self.stdout.write(
                f"Demo loaded: program {program.slug!r}, {counted(added, 'code')} added, "
                f"{counted(new_people, 'participant')} added{admin_note}."
            )
        else:
            self.stdout.write(f"Demo already loaded: program {program.slug!r}; nothing changed.")

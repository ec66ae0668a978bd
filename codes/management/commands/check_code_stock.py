from audit.commands import AuditedCommand
from codes import selectors
from codes.services import pool_stock_check
from foundation.wording import about_duration, counted
from programs.management.lookup import program_from_option


class Command(AuditedCommand):
    help = (
        "Print each pool's available codes, threshold, last-7-day use and forecast, "
        "and send the low-stock alerts that are due (and those recorded but never sent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", metavar="SLUG", help="Only this program.")

    def handle(self, *args, program=None, **options):
        only = None
        if program:
            only = program_from_option(program, promo_codes=False)
        pools = list(selectors.program_pools(program=only))
        alerts = 0
        for pool in pools:
            stock = selectors.pool_stock(pool=pool)
            days = (
                "no recent use"
                if stock.days_left is None
                else about_duration(stock.days_left) + " left"
            )
            flag = " EMPTY" if stock.is_empty else (" LOW" if stock.is_low else "")
            self.stdout.write(
                f"{pool.program.slug} · {pool.name}: {stock.available} available "
                f"(threshold {stock.threshold}), {stock.assigned} assigned, "
                f"{stock.redeemed} redeemed, {stock.voided} voided, "
                f"{stock.used_last_7_days} used in 7 days, "
                f"{days}{flag}"
            )
            if stock.expired or stock.expiring_soon:
                self.stdout.write(
                    f"  expiry: {stock.expired} expired before they were handed out, "
                    f"{stock.expiring_soon} available expire within "
                    f"{selectors.EXPIRY_WARNING_DAYS} days"
                )
            # Like the periodic task: alerts recorded but never sent (broker down) go out too.
            for alert in pool_stock_check(pool_id=pool.pk, resend_unsent=True):
                alerts += 1
                self.stdout.write(f"  alert: {alert.get_kind_display()} e-mail queued")
        self.stdout.write(
            self.style.SUCCESS(
                f"Checked {counted(len(pools), 'pool')}; {counted(alerts, 'alert')} raised."
            )
        )

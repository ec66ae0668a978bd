from django.dispatch import Signal

# Sent inside the saving transaction with `program` and `change` (a PromoSettingsChange).
# Higher apps listen; programs never imports them.
promo_settings_changed = Signal()

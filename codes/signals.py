"""Signals the codes app sends; higher apps (participants) listen. codes never imports them."""

from django.dispatch import Signal

# A batch landed in a pool (sent by the pool_batch_landed task, outside any transaction), with
# `pool`. The rewards app fills rewards waiting for a fuel-tank code.
pool_restocked = Signal()

# Fuel-tank codes claimed for rewards are about to be voided (sent inside the voiding
# transaction, before the codes are locked), with `program` and `code_ids`: the rewards app
# locks their rewards first, so rewards are always locked before their codes.
reward_codes_voiding = Signal()

# Fuel-tank codes claimed for rewards were voided (sent inside the voiding transaction), with
# `program` and `code_ids`. The rewards app gives an unrevealed reward another code and flags a
# revealed one for review.
reward_codes_voided = Signal()

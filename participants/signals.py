"""Signals the participants app sends; higher apps (conversions) listen. participants never
imports them."""

from django.dispatch import Signal

# A participant is being erased (a privacy request), sent inside the erasure's transaction once
# the participant rows carry their tombstones, with `program`, `participants` (the person's
# rows: the one the brand named and any customer record made from their orders) and `erased`
# (an ErasedIdentity: the ids, the e-mail and its SHA-1 digest they were known by). Receivers
# blank their own copies of that data and return how many rows they changed.
participant_erasing = Signal()

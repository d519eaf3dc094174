"""Subscriber data behind one repository interface (SQLite by default, PostgreSQL by URL).

>>> from fivecore.store import SubscriberStore, Subscriber
>>> store = SubscriberStore("sqlite:///subs.db")          # migrations run on open
>>> store.add(Subscriber("imsi-001010000000001", k=bytes(16), opc=bytes(16), profile="default"))
>>> av_input = store.next_sqn("imsi-001010000000001")   # atomic SQN advance, returns K/OPc/SQN
"""

from .models import SEQ_STEP, SQN_MAX, AuthData, Subscriber
from .repository import (
    DEFAULT_PROFILE,
    AlreadyExists,
    NotFound,
    StoreDatabaseError,
    StoreError,
    SubscriberStore,
    normalise_supi,
)

__all__ = [
    "DEFAULT_PROFILE",
    "SEQ_STEP",
    "SQN_MAX",
    "AlreadyExists",
    "AuthData",
    "NotFound",
    "StoreDatabaseError",
    "StoreError",
    "Subscriber",
    "SubscriberStore",
    "normalise_supi",
]

"""Postgres access for the `auth` schema."""

from rtk_auth.store.pg import AuthStore, UniqueViolation

__all__ = ["AuthStore", "UniqueViolation"]

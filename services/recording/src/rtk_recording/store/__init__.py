"""Postgres access of the recording service (schema `recording`)."""

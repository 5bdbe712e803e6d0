"""Alembic migrations of the kefu schema (a package so that setuptools ships env.py and the revisions)."""

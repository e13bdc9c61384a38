"""Alembic revision scripts of the bridge's SQL stores (a package so that wheels ship them)."""

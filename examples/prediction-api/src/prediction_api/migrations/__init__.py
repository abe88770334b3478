"""Alembic migrations, shipped inside the wheel (run them with ``prediction-api-migrate``).

Expand-only: a migration adds (tables, nullable columns, indexes) and never drops or renames
what a running older release reads, so the previous release keeps working after a migration
and a rollback needs no downgrade. Revisions are numbered 0001, 0002, ... in one line.
"""

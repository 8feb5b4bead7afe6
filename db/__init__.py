"""The one schema: declarative base, engine and session factory, models per area, migrations.

Every table Enclave stores lives in :mod:`db.models`; the database is created and upgraded
only by :func:`db.migrate.upgrade` (Alembic, ``db/migrations``). Nothing else creates tables.
"""

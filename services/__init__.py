"""Enclave's use cases: what people do with it, shared by the web app, the CLIs and the APIs.

Each module is one area (access, library, ask, jobs, accounts, admin). Services own their
transactions (the catalog session is opened, committed and closed here, never in a view),
act for an :class:`~services.actor.Actor` and raise :mod:`services.errors` — never HTTP
errors: the web app maps those in one place (web/errors.py).
"""

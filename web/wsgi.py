"""WSGI entry for several web processes: ``gunicorn -c docker/gunicorn.conf.py web.wsgi:app``.

gunicorn imports this module in each worker process after the fork (no ``--preload``), so
every process builds its own app, database engine and models, and nothing initialises CUDA
before a fork. The processes share one catalog (``database_url``) and one data directory:
the vector index snapshots the writer publishes there are memory-mapped by every process
(``retrieval.index.mmap``), so N processes share one copy in the page cache. Ingest jobs go
to Celery workers with ``jobs.runner: celery`` (the ``cluster`` profile); with the thread
runner each process runs a worker thread, serialised by the writer lock.
"""

from __future__ import annotations

from config import configure_offline, load_settings
from web import create_app, start

configure_offline()
settings = load_settings()
app = start(create_app(settings))
app.extensions["enclave"].warm_up()

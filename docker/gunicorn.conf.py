"""Gunicorn settings of the web containers: ``gunicorn --config docker/gunicorn.conf.py web.wsgi:app``.

Environment: ENCLAVE_WEB__HOST / ENCLAVE_WEB__PORT (the web settings) for the bind address,
ENCLAVE_WEB_PROCESSES for the worker processes, ENCLAVE_WEB__THREADS for threads per process.
"""

import os

bind = f"{os.environ.get('ENCLAVE_WEB__HOST', '0.0.0.0')}:{os.environ.get('ENCLAVE_WEB__PORT', '8000')}"
workers = int(os.environ.get("ENCLAVE_WEB_PROCESSES", "2"))
worker_class = "gthread"
threads = int(os.environ.get("ENCLAVE_WEB__THREADS", "8"))
timeout = 120
graceful_timeout = 30
# No preload: each worker process imports web.wsgi and builds its app after the fork. Loading
# the models (ONNX Runtime / llama.cpp thread pools, CUDA contexts) or opening database
# connections in the master would hand every worker forked copies of state that is not
# fork-safe; the shared memory comes from the memory-mapped index instead.
preload_app = False
accesslog = "-"
errorlog = "-"

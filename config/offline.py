"""Keep every library off the network: hub downloads, telemetry and analytics.

Call :func:`configure_offline` at each entry point *before* importing transformers,
sentence-transformers or unstructured: several of them read these variables at import.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {
    # Hugging Face hub / transformers / sentence-transformers: never contact the hub.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    # unstructured's Scarf analytics ping and generic opt-outs.
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
    "ANONYMIZED_TELEMETRY": "False",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    # NNCF (the openvino-int8 quantization): its no-op telemetry stub even where
    # openvino-telemetry got installed (Enclave installs it without; the variable only does this).
    "NNCF_CI": "1",
    # tokenizers' fork warning is noise in a threaded server.
    "TOKENIZERS_PARALLELISM": "false",
}


def configure_offline() -> None:
    """Set the offline/no-telemetry environment for this process and its children."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value

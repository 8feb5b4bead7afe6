"""The plain LangChain recipe's ingest, as a program of its own (for bench/ingest_speed.py).

    python bench/recipe_ingest.py CORPUS_DIR OUT_DIR

Loads every file with its LangChain loader (bench.harness.load_recipe_documents), splits
with RecursiveCharacterTextSplitter(1000, 200), embeds with the same bundled MiniLM through
HuggingFaceEmbeddings (sentence-transformers, PyTorch), builds LangChain's FAISS store and
saves it. Prints one JSON line: stage seconds, text characters, chunks.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str]) -> int:
    corpus, out = Path(argv[0]), Path(argv[1])
    t0 = time.perf_counter()
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from bench.harness import load_recipe_documents
    from config import configure_offline
    from retrieval.backends.sentence_transformers import bundled_embedding_model_path

    configure_offline()
    warnings.filterwarnings("ignore")
    t1 = time.perf_counter()
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith("."))
    docs = load_recipe_documents(files)
    t2 = time.perf_counter()
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    t3 = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=bundled_embedding_model_path())
    store = FAISS.from_documents(splits, embeddings)
    t4 = time.perf_counter()
    store.save_local(str(out))
    t5 = time.perf_counter()
    print(json.dumps({
        "files": len(files), "chunks": len(splits),
        "text_chars": sum(len(d.page_content) for d in docs),
        "import_s": round(t1 - t0, 3), "parse_s": round(t2 - t1, 3),
        "chunk_s": round(t3 - t2, 3), "embed_s": round(t4 - t3, 3), "index_s": round(t5 - t4, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

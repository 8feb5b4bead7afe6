"""Ingestion: parse files with unstructured, chunk by structure, embed, index, catalog."""

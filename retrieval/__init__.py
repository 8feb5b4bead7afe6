"""Retrieval: catalog, embeddings, FAISS search and the LangChain retriever adapter."""

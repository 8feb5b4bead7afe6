"""Generation: a local open-weight LLM writes cited answers from retrieved passages."""

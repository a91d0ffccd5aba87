"""Long-term memory: every message indexed (embeddings + full text), durable facts, hybrid search, recall."""

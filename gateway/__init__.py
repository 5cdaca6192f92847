"""Bella Gateway: many AI providers behind one OpenAI-compatible API."""

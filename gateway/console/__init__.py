"""The admin REST API under /console (JSON, OpenAI-shaped errors), guarded by role."""

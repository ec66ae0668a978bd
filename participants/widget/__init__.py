"""The advocate's widget: its page, its API (participant tokens), CORS and token handling."""

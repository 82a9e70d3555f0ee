"""Ranked passages in, a cited answer out: extractive.py picks the quote (kinds.py says what a
question asks for) or abstains; llm.py lets a language model (chat_model.py; local_model.py
runs one on this machine) write the answer from prompts.py, and verifies every quote it
gives (quotes.py)."""

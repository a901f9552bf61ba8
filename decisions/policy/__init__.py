"""The policy language (language.py) and its evaluation engine (engine.py)."""

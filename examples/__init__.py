"""Runnable examples of using TokenIDP."""

"""Deciding for a caller: the facts of one decision (facts.py), explanations, and policy
documents with their unit tests, which decide on fixtures.

They sit above the catalogue and auth, whose datasets and principals a decision reads;
the rules, the epoch and the permission module they build on stay in gateway/access/.
"""

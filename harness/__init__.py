"""The rigid, fixed-budget evaluation harness. The research agent never edits this package.

Kept free of imports so that a sandboxed selector process can load ``harness.api`` alone.
"""

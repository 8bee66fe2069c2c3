"""The SQLite ledger of runs, experiments and evaluations, and the morning reports."""

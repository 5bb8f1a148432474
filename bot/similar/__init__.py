"""Similar past incidents: "Has this happened before?" when an incident opens, and `/incident similar` on demand.

`search.py` finds and scores them (full-text search per dialect, same service, same alert, recency), `scoring.py`
and `words.py` are the pure rules, `notice.py` is the one quiet message in the incident channel (an outbox kind).
"""

"""The App Home tab: each person's pages, open incidents and roles, who a page reaches first, follow-ups coming due,
and a Declare incident button (`view.py`), kept current at a bounded rate per person (`refresh.py`)."""

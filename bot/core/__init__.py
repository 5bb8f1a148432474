"""The shared kernel every feature stands on: its narrow dependencies (`Deps`), the unit of work's outbox and
timeline writers, the incident row helpers, errors, permissions and the typed button codec. It imports no feature."""

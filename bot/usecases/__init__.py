"""Use cases: one function per thing a user can do. They take plain values and never import Bolt."""

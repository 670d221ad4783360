"""Moved: ``python -m indexnet_edu.experiments.sweep`` is the command now; this name only says so."""
from ._moved import moved

moved("indexnet_edu.sweep", "indexnet_edu.experiments.sweep", run=__name__ == "__main__")

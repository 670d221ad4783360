"""Moved: ``python -m indexnet_edu.experiments.train`` is the command now; this name only says so."""
from ._moved import moved

moved("indexnet_edu.train", "indexnet_edu.experiments.train", run=__name__ == "__main__")

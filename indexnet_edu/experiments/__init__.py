"""Experiments: the tasks, training one run, sweeping many, and reading back what they measured.

- :mod:`.tasks` — the one table of tasks (data, kind, skips, classes, primary metric, gate).
- :mod:`.config` — ``TrainConfig`` (its defaults are the quick preset) and the presets.
- :mod:`.runtime` — precision, the distributed context, deferred Ctrl-C, seeding.
- :mod:`.train` — one run: the loop, evaluation, ``load_trained_model``, the command line.
- :mod:`.sweep` — many runs as jobs, skipped or refused by their stored config, the command line.
- :mod:`.results` — the results folder's layout, ``ResultsTable``, the report and strip plots.
- :mod:`.metrics`, :mod:`.stats` — matting/segmentation metrics; paired contrasts and the decision rule.
- :mod:`.compare` — ``compare_upsampler``: a learner's upsampler against the shipped arms.
"""

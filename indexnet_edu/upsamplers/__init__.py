"""Upsamplers as modules, one ``nn.Module`` per operator, and the registry that builds each by name.

- :mod:`.index_blocks` — IndexNet's holistic and depthwise index blocks.
- :mod:`.carafe`, :mod:`.dysample`, :mod:`.a2u`, :mod:`.fade`, :mod:`.sapa` — CARAFE, DySample and
  the successors, each as its authors released it.
- :mod:`.resamplers` — every operator as a ``down(x)`` / ``up(y, state)`` pair.
- :mod:`.registry` — every upsampler the suite compares, by name; :mod:`.custom` — a learner's
  own module as a registry entry (the contract and ``check_upsampler``).
"""

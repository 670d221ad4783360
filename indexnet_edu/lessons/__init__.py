"""The lessons' wing: helpers the notebooks call, on top of the library.

The library (index maths → blocks → registry → data/metrics → models → training, benchmarks)
never imports from here. Inside: :mod:`.toy` (an index block trained in seconds),
:mod:`.pitfalls` (the seed's classic bugs), :mod:`.plotting`, :mod:`.training_views` (the
training lessons' cached runs and figures), :mod:`.comparison` (cost tables), :mod:`.env`
(quick mode, versions, the lesson list) and :mod:`.exercises` (checks and hidden answers).
"""

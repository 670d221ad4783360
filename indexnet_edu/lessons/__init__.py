"""The lessons' wing: helpers the notebooks call, on top of the library.

The library (ops → upsamplers → data, models → experiments, bench) never imports from here.
Inside: :mod:`.toy` (an index block trained in seconds), :mod:`.pitfalls` (five classic
index-network bugs, re-created to learn from), :mod:`.plotting`, :mod:`.training_views` (the
training lessons' cached runs and figures), :mod:`.shipped` (the shipped results and
checkpoints), :mod:`.fusion_views` (lesson 09's figures), :mod:`.comparison` (cost tables),
:mod:`.env` (quick mode, versions, the lesson list) and :mod:`.exercises` (checks and hidden
answers).
"""

"""Index maths as pure functions, no parameters: indexed pooling and upsampling, the classic
operators' indices, and reassembly (the one formula behind IndexNet, CARAFE, nearest, bilinear
and max-unpooling).

- :mod:`.indexing` — IP and IU (Lu et al., Indices Matter, ICCV 2019).
- :mod:`.recipes` — the indices and kernels that reproduce max/average pooling, max-unpooling,
  nearest and bilinear upsampling.
- :mod:`.reassembly` — ``reassemble`` and ``carafe``, the backend choice, the non-finite path;
  :mod:`.reassembly_op` makes it one ``torch.compile`` operator; :mod:`.kernels` holds the backends.
- :mod:`.graph_capture` — whether a call is being traced or exported.
"""

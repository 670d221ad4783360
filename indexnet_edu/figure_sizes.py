"""The size every figure is made for: the rendered book's page column.

The book (and JupyterLab) shows a figure as the PNG the inline backend saves — at the figure's
dpi, matplotlib's default 100, with a tight bounding box — scaled down to the page column if it
is wider. A figure no wider than the column is shown at its own size, so a font of s pt reads as
s pt. Figures here are made at most :data:`FIGURE_WIDTH_IN` wide and draw no text under
:data:`MIN_FONT_PT`; tests/lessons/test_figure_sizes.py checks every figure a lesson shows. No imports:
any layer that draws may use it.
"""

#: The book's page column: 730 px, i.e. 7.3 in at 100 dpi.
PAGE_WIDTH_IN = 7.3
#: The widest a figure is made: the column less the 0.1-in margin the tight bounding box adds on
#: each side (a figure filled to its edges is saved that much wider).
FIGURE_WIDTH_IN = PAGE_WIDTH_IN - 0.2
#: The smallest text a figure may draw, in pt at the page column's width.
MIN_FONT_PT = 9.0

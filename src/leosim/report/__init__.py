"""leosim.report: figures of a run and the self-contained ``report.html``.

- :mod:`leosim.report.figures`: one function per figure (tables in, matplotlib Figure out).
- :mod:`leosim.report.maps`: land outlines (bundled Natural Earth 1:110m), circles, extents.
- :mod:`leosim.report.html`: :func:`write_report` (``report.html`` in an output folder).
- :mod:`leosim.report.cli`: ``leosim plot DIR FIGURE -o FILE``.
"""

from leosim.report.html import FIGURES, load_run, make_figure, write_report

__all__ = ["FIGURES", "load_run", "make_figure", "write_report"]

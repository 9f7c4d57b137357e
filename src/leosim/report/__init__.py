"""leosim.report: figures of a run and the self-contained ``report.html``.

- :mod:`leosim.report.figures`: one function per figure (tables in, matplotlib Figure out),
  gathered from :mod:`leosim.report.charts` (time series, distributions) and
  :mod:`leosim.report.maps` (land outlines from bundled Natural Earth 1:110m, circles, extents,
  and the map figures); colours in :mod:`leosim.report.style`.
- :mod:`leosim.report.digest`: what the figures need of ``routes.parquet``, read batch by batch.
- :mod:`leosim.report.html`: :func:`write_report` (``report.html`` in an output folder).
- :mod:`leosim.report.cli`: ``leosim plot DIR FIGURE -o FILE``.
"""

__all__ = ["FIGURES", "load_run", "make_figure", "write_report"]


def __getattr__(name: str):
    # Imported on first use (PEP 562): `leosim.cli` registers `leosim plot` from
    # leosim.report.cli without loading matplotlib, so every command starts faster.
    if name in __all__:
        from leosim.report import html

        return getattr(html, name)
    raise AttributeError(f"module 'leosim.report' has no attribute {name!r}")

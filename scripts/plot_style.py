"""Line styles for fanion's plots: every line differs from the others by its dash pattern and
marker as well as by its colour, so that a plot reads in grey scale and for colour-blind
readers."""
import itertools

_DASHES = ["-", "--", "-.", ":"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
_STYLES = list(itertools.product(_MARKERS, _DASHES))


def line(i, points=None):
    """Keyword arguments for matplotlib's plot() for line number i (of a plot with `points`
    points per line, so that about 8 markers are drawn on each)."""
    marker, dash = _STYLES[(i * 5) % len(_STYLES)]  # neighbours differ in both
    style = dict(ls=dash, marker=marker, ms=4)
    if points:
        style["markevery"] = max(1, points // 8)
    return style

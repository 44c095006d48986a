"""Lazy matplotlib access."""


def pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sacroai.plotting needs matplotlib (pip install matplotlib)") from exc
    return plt


def axes(ax):
    """(figure, ax): a new figure when ax is None."""
    if ax is None:
        plt = pyplot()
        fig, ax = plt.subplots()
        return fig, ax
    return ax.figure, ax

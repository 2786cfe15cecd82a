"""Draw a benchmark's bar charts: ``plot.py OUT.png < panels.json``.

``panels.json`` is ``{"title": {"label": value, ...}, ...}``, one panel per
title, bars in the order given. Runs in its own virtualenv (tests/venvs/plot.txt).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(output):
    panels = json.load(sys.stdin)
    figure, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 4), squeeze=False
    )
    for axis, (title, bars) in zip(axes[0], panels.items(), strict=True):
        labels, values = list(bars), list(bars.values())
        drawn = axis.barh(labels, values, color="#714B67")
        axis.bar_label(drawn, fmt="%.1f", padding=3)
        axis.invert_yaxis()
        axis.set_title(title)
        axis.margins(x=0.25)
    figure.tight_layout()
    figure.savefig(output, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1])

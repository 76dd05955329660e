"""PNG plots of a simulation report, drawn with matplotlib's Agg canvas (no display, no global state).

The left panel is the dissemination CDF: for each rumour, the fraction of its target nodes holding it
against the time since it was written (thin lines), and the same over all rumours together (bold). The
right panel shows, per crash, the time until every live node had marked the crashed node dead, as points
over a histogram; crashes not detected by everyone by the end are marked at the right edge.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .metrics import SimReport

__all__ = ["plot_report"]


def plot_report(report: SimReport, path: str) -> None:
    """Write the dissemination CDF and the detection times of `report` to the PNG file `path`."""
    figure = Figure(figsize=(11, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    spread, detect = figure.subplots(1, 2)

    total_targets = 0
    merged: list[float] = []
    for delays, targets in zip(report.rumour_delays, report.rumour_targets, strict=True):
        if not targets or not delays:
            continue
        total_targets += targets
        merged.extend(delays)
        fractions = [(k + 1) / targets for k in range(len(delays))]
        spread.step([0.0, *delays], [0.0, *fractions], where="post", color="tab:blue", alpha=0.25,
                    linewidth=0.8)
    if merged:
        merged.sort()
        fractions = [(k + 1) / total_targets for k in range(len(merged))]
        spread.step([0.0, *merged], [0.0, *fractions], where="post", color="tab:blue", linewidth=2.0,
                    label="all rumours")
        spread.axhline(0.99, color="grey", linestyle=":", linewidth=1.0, label="99% of nodes")
        spread.legend(loc="lower right")
    spread.set_xlabel("seconds since the rumour was written")
    spread.set_ylabel("fraction of live nodes holding it")
    spread.set_ylim(0.0, 1.02)
    spread.set_title("Dissemination")

    detected = [d for d in report.detection_delays if d is not None]
    missed = len(report.detection_delays) - len(detected)
    if detected:
        detect.hist(detected, bins=min(20, max(5, len(detected))), color="tab:orange", alpha=0.5)
        detect.plot(detected, [0.5] * len(detected), "o", color="tab:red", label="crash detected by all")
    if missed:
        edge = max(detected) * 1.1 if detected else 1.0
        detect.plot([edge] * missed, [0.5] * missed, "x", color="black", label="not detected by all")
    if detected or missed:
        detect.legend(loc="upper right")
    detect.set_xlabel("seconds from crash until every live node marked it dead")
    detect.set_ylabel("crashes")
    detect.set_title("Failure detection")

    summary = report.summary
    figure.suptitle(f"{summary.get('nodes')} nodes, {summary.get('duration_s')} s, "
                    f"loss {summary.get('loss', 0)}, seed {summary.get('seed')}")
    figure.tight_layout()
    figure.savefig(path, format="png")

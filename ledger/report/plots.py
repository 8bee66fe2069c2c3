"""The morning report's two charts, drawn with matplotlib (``figures.py``).

- progress: every experiment's dev sel@k against its number, the y axis zoomed to the data (the
  experiments, the running best and its holdout, the best baseline), kept experiments labelled
  with their hypothesis, experiments without a score as crosses on the axis, the best baseline
  and (when they fall in view) random and oracle as reference lines, each named on the chart;
- the pool: pass@k against k (log axis) per split, with the measured pass@1 and pass@k, the
  baselines' and the best selector's sel@k at the run's k.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from harness.results import ExperimentStatus
from ledger.report.figures import PALETTE, axis_data, drawing, svg_of, zoomed
from ledger.report.runs import RunsComparison
from ledger.report.summary import Report, running_best
from ledger.views import ExperimentView

KEPT, OTHER, FAILED = "#009E73", "#9a9fab", "#C62828"
HOLDOUT = "#CC79A7"  # the running best's commits on the holdout split
BASELINE = "#E69F00"  # the best baseline
REFERENCE = "#555566"  # random (pass@1) and oracle (pass@k)
SPLIT_COLORS = {"dev": "#0072B2", "holdout": "#D55E00"}
NEAR = 0.04  # reference lines closer than this share of the y axis are named together
LABEL_CHARS = 56  # a kept experiment's label: its number and the start of its hypothesis


def label(e: ExperimentView) -> str:
    """``#7 search trial 6: GROUP_BY='tests', GROUP_SCORE=…``: what a kept point says."""
    text = "start" if e.is_start else (e.hypothesis.splitlines() or [""])[0]
    text = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
    return f"#{e.number} {text}"


def progress_chart(report: Report) -> tuple[str, list[str]] | None:
    """The progress chart (see the module) and the reference lines that fall outside it, or
    None before any experiment."""
    exps = report.experiments
    if not exps:
        return None
    scored = [(e, v) for e in exps if (v := e.sel_at_k("dev")) is not None]
    failed = [e for e in exps if e.sel_at_k("dev") is None]
    kept = [(e, v) for e, v in scored if e.status == ExperimentStatus.KEPT]
    steps, holdout = running_best(exps)
    data = [v for _, v in scored] + [v for _, v in steps] + [v for _, v in holdout]
    base = report.verdict.baseline
    base_value = report.verdict.baseline_values.get("dev") if base else None
    if base_value is not None:
        data.append(base_value)
    if not data:
        data = [0.0, 1.0]
    lo, hi = zoomed(data)
    with drawing(4.4) as fig:
        ax = fig.add_subplot()
        ax.set_ylim(lo, hi)
        last = exps[-1].number
        ax.set_xlim(0.4, last + 0.6 + max(1.0, 0.12 * last))  # room for the lines' names
        other = [(e.number, v) for e, v in scored if e.status != ExperimentStatus.KEPT]
        if other:
            ax.scatter([x for x, _ in other], [y for _, y in other], s=22, color=OTHER,
                       zorder=3, label="not kept (discarded...)", gid="progress-other")  # fmt: skip
        if steps:
            ax.step(*zip(*steps, strict=True), where="post", color=KEPT, lw=2, zorder=2,
                    label="running best (dev)")  # fmt: skip
        if holdout:
            ax.step(*zip(*holdout, strict=True), where="post", color=HOLDOUT, lw=1.6,
                    ls=(0, (5, 2)), zorder=2, label="same commits on holdout")  # fmt: skip
        if kept:
            xs, ys = zip(*[(e.number, v) for e, v in kept], strict=True)
            ax.scatter(xs, ys, s=70, color=KEPT, edgecolor="white", zorder=4, label="kept")
            _label_kept(ax, kept, lo, hi)
        if failed:
            ax.scatter([e.number for e in failed], [0.015] * len(failed), marker="x", s=40,
                       color=FAILED, transform=ax.get_xaxis_transform(), clip_on=False,
                       zorder=4, label="no score (crashed, invalid...)",
                       gid="progress-failed")  # fmt: skip
        off = _references(ax, report, lo, hi, base, base_value, last)
        ax.set_xlabel("experiment")
        ax.set_ylabel(f"dev sel@{_k(report)}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter("{x:.3f}")
        ax.legend(loc="upper left", ncols=5, bbox_to_anchor=(0, 1.13))
        return svg_of(fig, "chart progress", axis_data(ax, min(data), max(data))), off


def _k(report: Report) -> str:
    dev = report.baselines.get("dev")
    return str(dev.k) if dev else "k"


def _label_kept(ax: Axes, kept: list[tuple[ExperimentView, float]], lo: float, hi: float) -> None:
    """Each kept point named by its number and hypothesis; labels step up (or, near the top,
    down) by turns so that neighbours do not overwrite each other."""
    for i, (e, v) in enumerate(kept):
        above = (v - lo) / (hi - lo) < 0.8
        step = 14 + 12 * (i % 3)
        ax.annotate(
            label(e), (e.number, v), xytext=(6, step if above else -step),
            textcoords="offset points", fontsize=8.5, color="#1d2330",
            va="bottom" if above else "top", gid=f"progress-kept-{e.number}",
            arrowprops={"arrowstyle": "-", "color": "#7a8", "lw": 0.8},
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )  # fmt: skip


def _references(
    ax: Axes,
    report: Report,
    lo: float,
    hi: float,
    base: str | None,
    base_value: float | None,
    last: int,
) -> list[str]:
    """The best baseline, random and oracle as named horizontal lines where they fall in view;
    the names and values of those that do not."""
    lines: list[tuple[str, float, str, str]] = []
    if base is not None and base_value is not None:
        lines.append((f"best baseline: {base} {base_value:.3f}", base_value, BASELINE, "--"))
    dev = report.baselines.get("dev")
    for name, style in (("random", ":"), ("oracle", "-.")):
        arm = dev.arms.get(name) if dev else None
        if arm is not None and arm.sel_at_k is not None:
            lines.append((f"{name} {arm.sel_at_k:.3f}", arm.sel_at_k, REFERENCE, style))
    off = [f"{text} ({'below' if value < lo else 'above'})" for text, value, _, _ in lines
           if not lo <= value <= hi]  # fmt: skip
    shown = sorted((line for line in lines if lo <= line[1] <= hi), key=lambda line: line[1])
    named: list[list[tuple[str, float, str, str]]] = []  # lines too close to name apart
    for line in shown:
        if named and line[1] - named[-1][-1][1] < NEAR * (hi - lo):
            named[-1].append(line)
        else:
            named.append([line])
    for group in named:
        for _, value, color, style in group:
            ax.axhline(value, color=color, ls=style, lw=1.4, zorder=1)
        ax.annotate(" = ".join(text for text, _, _, _ in group), (1.0, group[-1][1]),
                    xycoords=("axes fraction", "data"), xytext=(-4, 3),
                    textcoords="offset points", ha="right", va="bottom", fontsize=8,
                    color=group[0][2], zorder=5, bbox={"boxstyle": "round,pad=0.15",
                    "fc": "white", "ec": "none", "alpha": 0.85})  # fmt: skip
    return off


def pass_curve_chart(report: Report) -> str | None:
    """The pool's pass@k against k, with the measured pass@1/pass@k and the selectors' sel@k."""
    if not report.curves and not report.baselines:
        return None
    best = report.experiment(report.best)
    with drawing(3.8) as fig:
        ax = fig.add_subplot()
        ax.set_xscale("log")
        for split, curve in report.curves.items():
            ks, values = zip(*curve, strict=True)
            ax.plot(ks, values, color=SPLIT_COLORS[split], lw=1.8, label=f"pool pass@k ({split})")
        for split, base in report.baselines.items():
            color = SPLIT_COLORS[split]
            measured = [(1, base.pass_at_1), (base.k, base.pass_at_k)]
            points = [(k, v) for k, v in measured if v is not None]
            if points:
                ax.scatter([x for x, _ in points], [y for _, y in points], marker="s", s=36,
                           facecolor="white", edgecolor=color, zorder=3,
                           label=f"measured pass@1, pass@{base.k} ({split})")  # fmt: skip
            arms = [a.sel_at_k for name, a in base.arms.items() if a.sel_at_k is not None
                    and name != "oracle"]  # fmt: skip
            if arms:
                ax.scatter([base.k] * len(arms), arms, s=16, color=OTHER, zorder=2,
                           label=f"baselines at k={base.k} ({split})")  # fmt: skip
            ev = best.evaluations.get(split) if best else None
            if best is not None and ev is not None and ev.score and ev.score.sel_at_k is not None:
                ax.scatter([ev.k], [ev.score.sel_at_k], marker="D", s=50, color=color, zorder=4,
                           label=f"best #{best.number} ({split})")  # fmt: skip
        ax.set_xlabel("k (candidates to choose from)")
        ax.set_ylabel("pass@k / sel@k")
        ax.yaxis.set_major_formatter("{x:.0%}")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return svg_of(fig, "chart passk")


def runs_chart(comparison: RunsComparison) -> str | None:
    """Each run's running best on dev (solid) and the same commits on holdout (dashed),
    against the experiment number, one colour per run."""
    lines = [row for row in comparison.runs if row.steps]
    if not lines:
        return None
    values = [v for row in lines for _, v in row.steps + row.holdout_steps]
    lo, hi = zoomed(values)
    with drawing(3.8) as fig:
        ax = fig.add_subplot()
        ax.set_ylim(lo, hi)
        for i, row in enumerate(lines):
            color = PALETTE[i % len(PALETTE)]
            xs, ys = zip(*row.steps, strict=True)
            ax.step(xs, ys, where="post", color=color, lw=2, label=f"{row.tag}: dev")
            if row.holdout_steps:
                xs, ys = zip(*row.holdout_steps, strict=True)
                ax.step(xs, ys, where="post", color=color, lw=1.5, ls=(0, (5, 2)),
                        label=f"{row.tag}: holdout")  # fmt: skip
        ax.set_xlabel("experiment")
        ax.set_ylabel("the incumbent's sel@k")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter("{x:.3f}")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return svg_of(fig, "chart runs", axis_data(ax, min(values), max(values)))

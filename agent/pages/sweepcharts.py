"""The sweep page's four charts, drawn with matplotlib (``ledger/report/figures.py``).

(a) per pool, accuracy against k on a log axis: pass@k as the ceiling with its band, each arm's
sel@k, the forecast dashed past the largest k sampled with its band; (b) the same against
compute, every pool on one axis; (c) the share of the pass@1 -> pass@k gap each arm closes,
with its 95% interval, against k; (d) where a weaker pool's curves reach a stronger pool's
pass@1, with the bootstrap interval of that k.

Arms whose curves are identical (CodeT and a selector that is CodeT) are drawn once and named
together (``codet = selector``) rather than hiding each other; the k axis is ticked at the ks
sampled, a compute axis wherever it has fewer than two decades' ticks in view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from harness.analysis.sweep import PoolSweep, SweepResult
from ledger.report.figures import PALETTE, drawing, svg_of

CEILING = "#222222"  # pass@k, the ceiling every arm is drawn under
TARGET = "#555566"  # another pool's pass@1, a dashed line (one dash pattern per pool)
DASHES = ("--", "-.", ":")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">", "h")  # one per arm (or pool, in (b))
HIDDEN = ("oracle",)  # drawn as the pass@k ceiling instead (on subsets it estimates the same)
NO_GAP = ("random", "oracle")  # close 0% and 100% of the gap by construction
SAME = 1e-12  # two curves this close at every k are one line
LEGEND_CHARS = 36  # a legend entry is broken into lines about this long


@dataclass
class Curve:
    """One line: the arms it stands for (identical curves), its points, their tooltips."""

    arms: list[str]
    points: list[tuple[float, float]]
    tips: list[str]

    @property
    def label(self) -> str:
        return legend_label(" = ".join(self.arms))


def arm_colors(result: SweepResult) -> dict[str, str]:
    """One colour per arm across every chart ("pass@k" is the ceiling's)."""
    names = list(dict.fromkeys(a for p in result.pools for pt in p.points for a in pt.arms))
    return {"pass@k": CEILING} | {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(names)}


def drawn_colors(result: SweepResult) -> dict[str, dict[str, str]]:
    """Per pool, the colour each arm is drawn in on chart (a): its own, or the first arm's of
    the identical curve it is drawn as (for the tables' swatches)."""
    colors = arm_colors(result)
    drawn: dict[str, dict[str, str]] = {}
    for pool in result.pools:
        on_ceiling, curves = beside_ceiling(pool)
        drawn[pool.name] = {"pass@k": CEILING} | {arm: CEILING for arm in on_ceiling}
        for curve in curves:
            drawn[pool.name] |= {arm: colors[curve.arms[0]] for arm in curve.arms}
    return drawn


def beside_ceiling(pool: PoolSweep) -> tuple[list[str], list[Curve]]:
    """(the arms whose curve is pass@k itself, as at k = 1 alone; the other arms' curves)."""
    ceiling = [(float(p.k), p.pass_at_k) for p in pool.points]
    curves = sel_curves(pool)
    same = [arm for c in curves if _same(c.points, ceiling) for arm in c.arms]
    return same, [c for c in curves if not _same(c.points, ceiling)]


def legend_label(text: str, width: int = LEGEND_CHARS) -> str:
    """A long legend entry (many identical arms) over several lines, broken at the ``=``s."""
    lines: list[str] = []
    for part in text.split(" = "):
        if lines and len(lines[-1]) + len(part) + 3 <= width:
            lines[-1] += f" = {part}"
        else:
            lines.append(part if not lines else f"= {part}")
    return "\n".join(lines)


def arms_of(pool: PoolSweep) -> list[str]:
    return list(dict.fromkeys(a for pt in pool.points for a in pt.arms if a not in HIDDEN))


def merged(curves: list[Curve]) -> list[Curve]:
    """Identical curves as one, named by every arm it stands for."""
    out: list[Curve] = []
    for curve in curves:
        twin = next((c for c in out if _same(c.points, curve.points)), None)
        if twin is None:
            out.append(Curve(list(curve.arms), list(curve.points), list(curve.tips)))
        else:
            twin.arms += curve.arms
    return out


def _same(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> bool:
    return len(a) == len(b) and all(
        xa == xb and abs(ya - yb) <= SAME for (xa, ya), (xb, yb) in zip(a, b, strict=True)
    )


def sel_curves(pool: PoolSweep, x: Callable[[str, int], float | None] | None = None) -> list[Curve]:
    """Each arm's measured (x, sel@k), x being k unless ``x(arm, k)`` says otherwise (None:
    unknown there, left out), identical ones merged."""
    curves = []
    for arm in arms_of(pool):
        points, tips = [], []
        for pt in pool.points:
            a = pt.arms.get(arm)
            where = float(pt.k) if x is None else x(arm, pt.k)
            if a is None or a.sel_at_k is None or where is None:
                continue
            points.append((where, a.sel_at_k))
            tips.append(f"{arm} sel@{pt.k} {a.sel_at_k:.3f} [{a.ci_low:.3f}, {a.ci_high:.3f}]")
        if points:
            curves.append(Curve([arm], points, tips))
    return merged(curves)


def _k_axis(ax: Axes, ks: Sequence[float]) -> None:
    """A log k axis ticked at the ks sampled (and the forecast's end), labelled as integers."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sorted(set(ks))))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("k (candidates per problem)")


def _percent(ax: Axes, label: str) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_ylabel(label)


def _style(i: int) -> dict[str, object]:
    return {"marker": MARKERS[i % len(MARKERS)], "ms": 5, "lw": 1.6}


def k_chart(result: SweepResult, pool: PoolSweep) -> str:
    """(a) pass@k and every arm's sel@k against k for one pool, with the forecast."""
    colors = arm_colors(result)
    ks = [float(p.k) for p in pool.points]
    titles: dict[str, str] = {}
    with drawing(4.2) as fig:
        ax = fig.add_subplot()
        ax.fill_between(ks, [p.pass_low for p in pool.points], [p.pass_high for p in pool.points],
                        color=CEILING, alpha=0.08, lw=0)  # fmt: skip
        on_ceiling, curves = beside_ceiling(pool)
        ax.plot(ks, [p.pass_at_k for p in pool.points], color=CEILING, marker="s", ms=5, lw=2,
                label=legend_label(" = ".join(["pass@k (ceiling)", *on_ceiling])),
                gid=f"ceiling-{pool.name}")  # fmt: skip
        titles[f"ceiling-{pool.name}"] = "; ".join(
            f"pass@{p.k} {p.pass_at_k:.3f} [{p.pass_low:.3f}, {p.pass_high:.3f}]"
            for p in pool.points
        )
        tick_ks = list(ks)
        f = pool.forecast
        if f is not None:
            fks = [float(k) for k in f.ks]
            ax.fill_between(fks, f.low, f.high, color="#8a8f98", alpha=0.18, lw=0,
                            label="forecast 95% band")  # fmt: skip
            gid = f"forecast-{pool.name}"
            ax.plot(fks, f.values, color=CEILING, ls=(0, (7, 5)), lw=1.6, gid=gid,
                    label="FORECAST (not measured)")  # fmt: skip
            titles[gid] = f"{f.label}, not measured: pass@{f.ks[-1]} ≈ {f.values[-1]:.3f}"
            tick_ks.append(fks[-1])
        for i, curve in enumerate(curves):
            gid = f"arm-{pool.name}-{'-'.join(curve.arms)}"
            ax.plot(*zip(*curve.points, strict=True), color=colors[curve.arms[0]],
                    label=curve.label, gid=gid, **_style(i))  # type: ignore[arg-type]  # fmt: skip
            titles[gid] = "; ".join(curve.tips)
        others = [o for o in result.pools if o.name != pool.name]
        for j, other in enumerate(others):
            ax.axhline(other.pass_at_1, color=TARGET, ls=DASHES[j % len(DASHES)], lw=1.3,
                       label=f"pool {other.name} pass@1 {other.pass_at_1:.3f}")  # fmt: skip
        _k_axis(ax, tick_ks)
        top = max([p.pass_high for p in pool.points] + (f.high if f else []) +
                  [o.pass_at_1 for o in others])  # fmt: skip
        ax.set_ylim(0, min(1.0, top + 0.05))
        _percent(ax, "accuracy on the problems")
        label = " (SIMULATED)" if pool.simulated else ""
        ax.set_title(f"Pool {pool.name}{label}: pass@k and each arm's sel@k against k")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return svg_of(fig, "chart sweep-k", {"pool": pool.name}, titles)


def compute_chart(
    result: SweepResult,
    unit: str,
    label: str,
    cost: Callable[[PoolSweep, str, int], float | None],
    samples_cost: Callable[[PoolSweep, int], float | None],
) -> str:
    """(b) every pool's pass@k and sel@k against the compute each point costs: ``cost(pool,
    curve, k)`` for a measured point, ``samples_cost(pool, k)`` for k samples alone (the
    forecast's); None where unknown."""
    colors = arm_colors(result)
    xs: list[float] = []
    with drawing(4.2) as fig:
        ax = fig.add_subplot()
        ax.set_xscale("log")
        for i, pool in enumerate(result.pools):
            marker = MARKERS[i % len(MARKERS)]
            name = "" if len(result.pools) == 1 else f"{pool.name}: "
            ceiling = [(x, p.pass_at_k) for p in pool.points
                       if (x := cost(pool, "pass@k", p.k)) is not None]  # fmt: skip
            if ceiling:
                ax.plot(*zip(*ceiling, strict=True), color=CEILING, marker=marker, lw=2, ms=5,
                        label=f"{name}pass@k")  # fmt: skip
            f = pool.forecast
            fx = [samples_cost(pool, k) for k in f.ks] if f is not None else []
            if f is not None and all(x is not None for x in fx):
                xs_f = [float(x or 0.0) for x in fx]
                ax.plot(xs_f, f.values, color=CEILING, ls=(0, (7, 5)), lw=1.4,
                        label=f"{name}FORECAST (not measured)")  # fmt: skip
                ax.fill_between(xs_f, f.low, f.high, color="#8a8f98", alpha=0.15, lw=0)
                xs += xs_f

            def at(arm: str, k: int, pool: PoolSweep = pool) -> float | None:
                return cost(pool, arm, k)

            for curve in sel_curves(pool, at):
                ax.plot(*zip(*curve.points, strict=True), color=colors[curve.arms[0]],
                        marker=marker, lw=1.4, ms=4, label=f"{name}{curve.label}")  # fmt: skip
                xs += [x for x, _ in curve.points]
            xs += [x for x, _ in ceiling]
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _plain(v)))
        if xs:
            _enough_ticks(ax, xs)
        ax.set_xlabel(label)
        _percent(ax, "accuracy on the problems")
        ax.set_ylim(bottom=0)
        ax.set_title("The same against compute: every pool on one axis")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), ncols=1 if len(xs) < 60 else 2)
        return svg_of(fig, "chart sweep-compute", {"unit": unit})


def _plain(value: float) -> str:
    """A compute tick: 100, 2,000, or 1e+12 for FLOPs."""
    return f"{value:,.0f}" if 1 <= value < 1e5 else f"{value:.0e}" if value >= 1e5 else f"{value:g}"


def _enough_ticks(ax: Axes, xs: list[float]) -> None:
    """On a log axis spanning less than two decades, tick at the data (rounded to 2 digits)."""
    lo, hi = min(xs), max(xs)
    if hi / lo >= 100:
        return
    ticks = sorted({float(f"{x:.2g}") for x in xs})
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))


def gap_chart(result: SweepResult) -> str | None:
    """(c) the share of the pass@1 -> pass@k gap each arm closes against k, with intervals; arms
    are nudged apart along k so that their intervals do not hide each other."""
    colors = arm_colors(result)
    curves: list[tuple[PoolSweep, Curve, list[tuple[float, float]]]] = []
    for pool in result.pools:
        found = []
        for arm in arms_of(pool):
            if arm in NO_GAP:
                continue
            points, tips, bars = [], [], []
            for p in pool.points:
                a = p.arms.get(arm)
                if a is None or a.gap_closed is None:
                    continue
                points.append((float(p.k), a.gap_closed))
                low = a.gap_ci_low if a.gap_ci_low is not None else a.gap_closed
                high = a.gap_ci_high if a.gap_ci_high is not None else a.gap_closed
                bars.append((low, high))
                tips.append(f"{arm} at k={p.k}: {a.gap_closed:.0%} [{low:.0%}, {high:.0%}]")
            if points:
                found.append((Curve([arm], points, tips), bars))
        for curve in merged([c for c, _ in found]):
            bars = next(b for c, b in found if c.arms[0] == curve.arms[0])
            curves.append((pool, curve, bars))
    if not curves:
        return None
    titles: dict[str, str] = {}
    ks = sorted({x for _, c, _ in curves for x, _ in c.points})
    with drawing(4.0) as fig:
        ax = fig.add_subplot()
        ax.axhline(0, color="#8a8f98", lw=1, ls=":")
        for i, (pool, curve, bars) in enumerate(curves):
            nudge = 1.0 + 0.035 * (i - (len(curves) - 1) / 2)
            xs = [x * nudge for x, _ in curve.points]
            ys = [y for _, y in curve.points]
            errors = [[y - lo for y, (lo, _) in zip(ys, bars, strict=True)],
                      [hi - y for y, (_, hi) in zip(ys, bars, strict=True)]]  # fmt: skip
            name = curve.label if len(result.pools) == 1 else f"{pool.name}: {curve.label}"
            gid = f"gap-{pool.name}-{'-'.join(curve.arms)}"
            ax.errorbar(xs, ys, yerr=errors, color=colors[curve.arms[0]], capsize=3,
                        elinewidth=1, label=name, gid=gid, **_style(i))  # type: ignore[arg-type]  # fmt: skip
            titles[gid] = "; ".join(curve.tips)
        _k_axis(ax, ks)
        _percent(ax, "gap closed: (sel@k − pass@1) / (pass@k − pass@1)")
        ax.set_title("Share of the pass@1 → pass@k gap each arm closes (95% intervals)")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return svg_of(fig, "chart sweep-gap", None, titles)


def crossing_chart(result: SweepResult, pool: PoolSweep) -> str | None:
    """(d) the pool's curves against every stronger pool's pass@1, with the crossing ks."""
    found = [c for c in result.crossings if c.small == pool.name]
    if not found:
        return None
    colors = arm_colors(result)
    titles: dict[str, str] = {}
    with drawing(4.0) as fig:
        ax = fig.add_subplot()
        ks = [float(p.k) for p in pool.points]
        ax.plot(ks, [p.pass_at_k for p in pool.points], color=CEILING, marker="s", ms=4, lw=2,
                label="pass@k")  # fmt: skip
        curves = {c.curve for c in found} - {"pass@k"}
        for i, curve in enumerate(c for c in sel_curves(pool) if set(c.arms) & curves):
            ax.plot(*zip(*curve.points, strict=True), color=colors[curve.arms[0]],
                    label=curve.label, **_style(i))  # type: ignore[arg-type]  # fmt: skip
        for j, big in enumerate(dict.fromkeys(c.big for c in found)):
            target = next(c.target for c in found if c.big == big)
            ax.axhline(target, color=TARGET, ls=DASHES[j % len(DASHES)], lw=1.3,
                       label=f"pool {big} pass@1 {target:.3f}")  # fmt: skip
        for n, c in enumerate(x for x in found if x.k is not None and x.value is not None):
            high = c.k_high if c.k_high is not None else c.largest_k
            low = c.k_low if c.k_low is not None else c.k
            assert c.k is not None and c.value is not None and low is not None
            gid = f"crossing-{pool.name}-{n}"
            ax.errorbar([c.k], [c.value], xerr=[[c.k - low], [high - c.k]], fmt="D", ms=7,
                        color="#000000", capsize=4, gid=gid,
                        label="crossing k (95% interval)" if n == 0 else None)  # fmt: skip
            titles[gid] = (
                f"{c.curve} reaches pool {c.big}'s pass@1 {c.target:.3f} at k={c.k} (95% "
                f"interval {c.k_low}–{c.k_high or 'beyond ' + str(c.largest_k)})"
            )
        _k_axis(ax, ks)
        _percent(ax, "accuracy on the problems")
        ax.set_ylim(bottom=0)
        ax.set_title(f"Where pool {pool.name}'s curves reach a stronger pool's pass@1")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return svg_of(fig, "chart sweep-cross", {"pool": pool.name}, titles)

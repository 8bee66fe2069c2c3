"""The sweep as one self-contained HTML page (inline SVG from ``ledger/report/charts.py``, no
script).

Four charts: (a) per pool, accuracy against k on a log axis: pass@k as the ceiling, each arm's
sel@k, the forecast dashed past the largest k sampled; (b) the same against compute, every pool
on one axis; (c) the share of the pass@1 -> pass@k gap each arm closes, against k; (d) where a
weaker pool's curves reach a stronger pool's pass@1, with the bootstrap interval of that k.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from harness.analysis.costs import PointCost, point_cost
from harness.analysis.sweep import PoolSpec, PoolSweep, SweepResult, SweepSpec, run_sweep
from harness.config import RunConfig
from ledger.report.charts import PALETTE, Axis, RefLine, Series, svg_chart
from ledger.report.page import check_page_target, page_environment, write_page

GENERATOR = "winnow sweep"  # the <meta name="generator"> that marks a page as ours
CEILING = "#222222"  # pass@k, the ceiling every arm is drawn under
MARKERS = ("circle", "square", "diamond", "cross")  # one per pool
HIDDEN = ("oracle",)  # drawn as the pass@k ceiling instead (on subsets it estimates the same)
NO_GAP = ("random", "oracle")  # closes 0% and 100% of the gap by construction
UNITS = (
    ("flops", "FLOPs per problem"),
    ("generated_tokens", "generated tokens per problem"),
    ("samples", "samples per problem"),
)
PERCENT = Axis("accuracy on the problems", lo=0.0, hi=1.0, percent=True)
K_AXIS = Axis("k (candidates per problem)", log=True)


def write_sweep_html(result: SweepResult, path: Path) -> None:
    """Write the page atomically; never replace a file that is not a sweep page."""
    write_page(path, lambda: render_sweep_html(result), GENERATOR, "sweep")


def check_sweep_target(path: Path) -> None:
    """Fail now, not after the sweep, when ``path`` cannot take the page."""
    check_page_target(path, GENERATOR, "sweep")


def render_sweep_html(result: SweepResult) -> str:
    env = page_environment("agent")
    env.filters.update(sci=_sci)
    unit, label, note = compute_unit(result)
    if left_out := unplaced_arms(result, unit):
        note += (f" Left out, their {label.split(' per')[0]} unknown (the self-tests' tokens are "
                 f"not in the pool): {', '.join(left_out)}.")  # fmt: skip
    return env.get_template("sweep.html.j2").render(
        r=result,
        generator=GENERATOR,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        k_charts=[(pool, k_chart(result, pool)) for pool in result.pools],
        compute=compute_chart(result, unit, label),
        compute_note=note,
        unit=unit,
        gap=gap_chart(result),
        cross_charts=[c for pool in result.pools if (c := crossing_chart(result, pool))],
        colors=arm_colors(result),
    )


def arm_colors(result: SweepResult) -> dict[str, str]:
    """One colour per arm across every chart ("pass@k" is the ceiling's)."""
    names = list(dict.fromkeys(a for p in result.pools for pt in p.points for a in pt.arms))
    return {"pass@k": CEILING} | {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(names)}


def _label(result: SweepResult, pool: PoolSweep, curve: str) -> str:
    return curve if len(result.pools) == 1 else f"{pool.name}: {curve}"


def _arms(pool: PoolSweep) -> list[str]:
    return list(dict.fromkeys(a for pt in pool.points for a in pt.arms if a not in HIDDEN))


def _curve(pool: PoolSweep, arm: str) -> tuple[list[tuple[float, float]], list[str]]:
    """An arm's measured (k, sel@k) points with their intervals as tooltips."""
    points, tips = [], []
    for pt in pool.points:
        a = pt.arms.get(arm)
        if a is not None and a.sel_at_k is not None:
            points.append((float(pt.k), a.sel_at_k))
            tips.append(f"{arm} sel@{pt.k} {a.sel_at_k:.3f} [{a.ci_low:.3f}, {a.ci_high:.3f}]")
    return points, tips


def k_chart(result: SweepResult, pool: PoolSweep) -> str:
    """(a) pass@k and every arm's sel@k against k for one pool, with the forecast."""
    colors = arm_colors(result)
    series = [
        Series(
            "pass@k (ceiling)", [(float(p.k), p.pass_at_k) for p in pool.points], CEILING,
            style="line", size=3.5, marker="square", css="ceiling",
            titles=[f"pass@{p.k} {p.pass_at_k:.3f} [{p.pass_low:.3f}, {p.pass_high:.3f}]"
                    for p in pool.points],
        )
    ]  # fmt: skip
    series += _forecast_series(pool, lambda k: float(k))
    for arm in _arms(pool):
        points, tips = _curve(pool, arm)
        series.append(Series(arm, points, colors[arm], style="line", size=3, css=f"arm arm-{arm}",
                             titles=tips))  # fmt: skip
    refs = [
        RefLine(f"pool {o.name} pass@1 {o.pass_at_1:.3f}", o.pass_at_1, PALETTE[(i + 3) % 10])
        for i, o in enumerate(result.pools)
        if o.name != pool.name
    ]
    label = " (SIMULATED)" if pool.simulated else ""
    return svg_chart(
        [s for s in series if s.points], refs, x=K_AXIS, y=PERCENT,
        title=f"Pool {pool.name}{label}: pass@k and each arm's sel@k against k",
        height=_height(series, refs), css="chart sweep-k",
    )  # fmt: skip


def _forecast_series(pool: PoolSweep, x: Callable[[int], float | None]) -> list[Series]:
    """The forecast (dashed) and its band (dotted), from the largest k sampled; ``x`` maps a
    k to the chart's x (None: unknown there, and then nothing is drawn)."""
    f = pool.forecast
    known = [] if f is None else [x(k) for k in f.ks]
    if f is None or any(v is None for v in known):
        return []
    xs = [float(v or 0.0) for v in known]
    line = Series("forecast (not measured)", list(zip(xs, f.values, strict=True)), CEILING,
                  style="line", size=0, dash="7 5", css="forecast")  # fmt: skip
    band = [
        Series("forecast 95% band", list(zip(xs, edge, strict=True)), "#8a8f98", style="line",
               size=0, dash="2 4", css="forecast band", legend=i == 0)
        for i, edge in enumerate((f.low, f.high))
    ]  # fmt: skip
    return [line, *band]


def compute_unit(result: SweepResult) -> tuple[str, str, str]:
    """The finest unit every pool knows for its samples: FLOPs, else generated tokens, else
    samples; with a note saying what is missing and why."""
    notes: list[str] = []
    for attr, label in UNITS:
        missing = [
            p.name for p in result.pools if getattr(p.points[0].costs["pass@k"], attr) is None
        ]
        if not missing:
            return attr, label, " ".join(notes)
        why = (
            "no parameter count (give --params NAME=COUNT)"
            if attr == "flops"
            else "no token counts in the pool (num_tokens per sample, or a sampling record)"
        )
        notes.append(f"{label.split(' per')[0]} unknown for pool {', '.join(missing)}: {why}.")
    raise AssertionError("samples are always known")


def unplaced_arms(result: SweepResult, unit: str) -> list[str]:
    """Arms with a measured sel@k whose cost in ``unit`` is unknown at some k."""
    return list(dict.fromkeys(
        _label(result, pool, arm) for pool in result.pools for p in pool.points
        for arm, a in p.arms.items()
        if arm not in HIDDEN and a.sel_at_k is not None and _x(p.costs[arm], unit) is None
    ))  # fmt: skip


def _x(cost: PointCost, unit: str) -> float | None:
    value = getattr(cost, unit)
    return None if value is None else float(value)


def _samples_cost(pool: PoolSweep, unit: str) -> Callable[[int], float | None]:
    """What k samples of the pool cost in ``unit`` (for the forecast's ks)."""
    return lambda k: _x(point_cost(pool.cost, k, None), unit)


def compute_chart(result: SweepResult, unit: str, label: str) -> str:
    """(b) every pool's pass@k and sel@k against the compute each point costs."""
    colors = arm_colors(result)
    series: list[Series] = []
    for i, pool in enumerate(result.pools):
        marker = MARKERS[i % len(MARKERS)]
        ceiling = [(x, p.pass_at_k) for p in pool.points
                   if (x := _x(p.costs["pass@k"], unit)) is not None]  # fmt: skip
        series.append(Series(_label(result, pool, "pass@k"), ceiling, CEILING, style="line",
                             marker=marker, size=3.5, css="ceiling"))  # fmt: skip
        series += _forecast_series(pool, _samples_cost(pool, unit))
        for arm in _arms(pool):
            points = [
                (x, a.sel_at_k) for p in pool.points
                if (a := p.arms.get(arm)) is not None and a.sel_at_k is not None
                and (x := _x(p.costs[arm], unit)) is not None
            ]  # fmt: skip
            series.append(Series(_label(result, pool, arm), points, colors[arm], style="line",
                                 marker=marker, size=3, css=f"arm arm-{arm}"))  # fmt: skip
    series = [s for s in series if s.points]
    return svg_chart(
        series, x=Axis(label, log=True), y=PERCENT, height=_height(series, []),
        title="The same against compute: every pool on one axis", css="chart sweep-compute",
    )  # fmt: skip


def gap_chart(result: SweepResult) -> str | None:
    """(c) the share of the pass@1 -> pass@k gap each arm closes, against k."""
    colors = arm_colors(result)
    series = []
    for i, pool in enumerate(result.pools):
        for arm in _arms(pool):
            if arm in NO_GAP:
                continue
            points = [
                (float(p.k), g)
                for p in pool.points
                if (a := p.arms.get(arm)) is not None and (g := a.gap_closed) is not None
            ]
            series.append(Series(_label(result, pool, arm), points, colors[arm], style="line",
                                 marker=MARKERS[i % len(MARKERS)], size=3, css=f"arm arm-{arm}",
                                 titles=[f"{arm} at k={k:.0f}: {g:.0%} of the gap closed"
                                         for k, g in points]))  # fmt: skip
    series = [s for s in series if s.points]
    if not series:
        return None
    return svg_chart(
        series, [RefLine("none closed", 0.0, "#8a8f98")], x=K_AXIS,
        y=Axis("gap closed: (sel@k − pass@1) / (pass@k − pass@1)", percent=True),
        height=_height(series, [None]), title="Share of the pass@1 → pass@k gap each arm closes",
        css="chart sweep-gap",
    )  # fmt: skip


def crossing_chart(result: SweepResult, pool: PoolSweep) -> str | None:
    """(d) the pool's curves against every stronger pool's pass@1, with the crossing ks."""
    found = [c for c in result.crossings if c.small == pool.name]
    if not found:
        return None
    colors = arm_colors(result)
    series = [
        Series(curve, _crossed(pool, curve), colors[curve], style="line", size=2.5, css="crossed")
        for curve in dict.fromkeys(c.curve for c in found)
    ]
    refs = {
        c.big: RefLine(f"pool {c.big} pass@1 {c.target:.3f}", c.target, PALETTE[(i + 3) % 10],
                       dash="8 3")
        for i, c in enumerate(found)
    }  # fmt: skip
    for c in found:
        if c.k_low is None:
            continue  # (almost) never reached: no interval to draw
        high = float(c.k_high if c.k_high is not None else c.largest_k)
        series.append(Series(f"{c.curve} reaches {c.big}: k in [{c.k_low}, {c.k_high or '>'}]",
                             [(float(c.k_low), c.target), (high, c.target)], colors[c.curve],
                             style="line", size=0, legend=False, css="interval"))  # fmt: skip
    reached = [c for c in found if c.k is not None and c.value is not None]
    series.append(Series(
        "crossing k", [(float(c.k or 0), c.value or 0.0) for c in reached],
        "#000000", marker="diamond", size=6, css="crossing",
        titles=[f"{c.curve} reaches pool {c.big}'s pass@1 {c.target:.3f} at k={c.k} "
                f"(95% interval {c.k_low}–{c.k_high or 'beyond ' + str(c.largest_k)})"
                for c in reached],
    ))  # fmt: skip
    series = [s for s in series if s.points]
    return svg_chart(
        series, list(refs.values()), x=K_AXIS, y=PERCENT, height=_height(series, list(refs)),
        title=f"Where pool {pool.name}'s curves reach a stronger pool's pass@1",
        css="chart sweep-cross",
    )  # fmt: skip


def _crossed(pool: PoolSweep, curve: str) -> list[tuple[float, float]]:
    if curve == "pass@k":
        return [(float(p.k), p.pass_at_k) for p in pool.points]
    return _curve(pool, curve)[0]


def _height(series: Sequence[Series], refs: Sequence[object]) -> int:
    """Tall enough for the legend (19 px a row)."""
    rows = sum(1 for s in series if s.legend and s.points) + len(refs)
    return max(400, 60 + 19 * rows)


def _sci(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g}"


def sweep_for_run(
    pool: str,
    selector: Path,
    ks: tuple[int, ...],
    out_html: Path,
    config: RunConfig,
    suite: str = "humaneval",
    split: str = "all",
) -> Path:
    """Sweep one pool with ``selector`` over ``ks`` and write the page to ``out_html``."""
    spec = SweepSpec(pools=(PoolSpec("pool", pool),), ks=ks, suite=suite, selector=selector,
                     split=split)  # fmt: skip
    out_html.parent.mkdir(parents=True, exist_ok=True)
    write_sweep_html(run_sweep(spec, config), out_html)
    return out_html

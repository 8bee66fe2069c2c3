"""The sweep as one self-contained HTML page (inline SVG drawn by matplotlib, no script).

Four charts (``sweepcharts.py``): (a) per pool, accuracy against k on a log axis: pass@k as the
ceiling, each arm's sel@k, the forecast dashed past the largest k sampled; (b) the same against
compute, every pool on one axis; (c) the share of the pass@1 -> pass@k gap each arm closes, with
its interval; (d) where a weaker pool's curves reach a stronger pool's pass@1, with the bootstrap
interval of that k.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from harness.analysis.costs import PointCost, point_cost
from harness.analysis.sweep import PoolSpec, PoolSweep, SweepResult, SweepSpec, run_sweep
from harness.config import RunConfig
from ledger.report.page import check_page_target, page_environment, write_page

GENERATOR = "winnow sweep"  # the <meta name="generator"> that marks a page as ours
HIDDEN = ("oracle",)  # drawn as the pass@k ceiling instead (on subsets it estimates the same)
UNITS = (
    ("flops", "FLOPs per problem"),
    ("generated_tokens", "generated tokens per problem"),
    ("samples", "samples per problem"),
)


def write_sweep_html(result: SweepResult, path: Path) -> None:
    """Write the page atomically; never replace a file that is not a sweep page."""
    write_page(path, lambda: render_sweep_html(result), GENERATOR, "sweep")


def check_sweep_target(path: Path) -> None:
    """Fail now, not after the sweep, when ``path`` cannot take the page."""
    check_page_target(path, GENERATOR, "sweep")


def render_sweep_html(result: SweepResult) -> str:
    # matplotlib takes about a second to import: only when a page is drawn, not for every
    # `winnow` command (nor every `winnow run`) that imports this module.
    from agent.pages import sweepcharts as charts

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
        k_charts=[(pool, charts.k_chart(result, pool)) for pool in result.pools],
        compute=charts.compute_chart(
            result,
            unit,
            label,
            lambda pool, curve, k: _cost_at(pool, curve, k, unit),
            lambda pool, k: _x(point_cost(pool.cost, k, None), unit),
        ),
        compute_note=note,
        unit=unit,
        gap=charts.gap_chart(result),
        cross_charts=[c for pool in result.pools if (c := charts.crossing_chart(result, pool))],
        colors=charts.drawn_colors(result),
    )


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
        (arm if len(result.pools) == 1 else f"{pool.name}: {arm}")
        for pool in result.pools for p in pool.points
        for arm, a in p.arms.items()
        if arm not in HIDDEN and a.sel_at_k is not None and _x(p.costs[arm], unit) is None
    ))  # fmt: skip


def _x(cost: PointCost, unit: str) -> float | None:
    value = getattr(cost, unit)
    return None if value is None else float(value)


def _cost_at(pool: PoolSweep, curve: str, k: int, unit: str) -> float | None:
    """What ``curve`` ("pass@k" or an arm) costs at a sampled k on ``pool``, in ``unit``."""
    point = next((p for p in pool.points if p.k == k), None)
    if point is None or curve not in point.costs:
        return None
    return _x(point.costs[curve], unit)


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

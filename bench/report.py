"""Writes a run's results: report.md (figures, targets, machine), ratios.png and results.json."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.machine import summary_line
from bench.section import Mode, Section, Target

REPORT = "report.md"
CHART = "ratios.png"
DATA = "results.json"


def _format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "×":
        return f"{value:.2f}×"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def _verdict(target: Target) -> str:
    return {True: "**met**", False: "**not met**", None: "not measured"}[target.met]


def targets_table(targets: list[Target]) -> str:
    lines = ["| target | limit | measured | |", "|---|---|---|---|"]
    for t in targets:
        lines.append(
            f"| {t.name} | {t.direction} {_format_value(t.limit, t.unit)} | {_format_value(t.measured, t.unit)} | "
            f"{_verdict(t)} |"
        )
    return "\n".join(lines)


def _environment_table(env: dict[str, Any], mode: Mode, seconds: float) -> str:
    rows = [
        ("date", env["date"]),
        ("mode", "quick (smoke run: small sizes, few repetitions)" if mode.quick else "full"),
        ("duration", f"{seconds:.0f} s"),
        ("CPU", f"{env['cpu']} ({env['cores']} cores)"),
        ("memory", f"{env['memory_gib']:.1f} GiB" if env.get("memory_gib") else "unknown"),
        ("load average (1/5/15 min) at start", env.get("load_average_at_start", "unknown")),
        ("load average (1/5/15 min) at end", env.get("load_average", "unknown")),
        ("OS", env["os"]),
        ("Python", env["python"]),
        ("gcc", env.get("gcc") or "not found"),
        ("iwasm", env.get("iwasm") or "not on the PATH"),
        ("teabox commit", env.get("commit") or "unknown"),
    ]
    rows += [(name, version or "not installed") for name, version in env["packages"].items()]
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def render(sections: list[Section], env: dict[str, Any], mode: Mode, seconds: float, command: str) -> str:
    targets = [t for s in sections for t in s.targets]
    parts = [
        "# teabox benchmark report",
        "",
        (
            f"Measured {summary_line(env)}, by `{command}`. Every figure below was measured in this one run; "
            "every ratio divides two medians from this run. Raw numbers: "
            f"[`{DATA}`]({DATA}); chart: [`{CHART}`]({CHART})."
        ),
        "",
        "## Targets",
        "",
        targets_table(targets),
        "",
        f"![ratios]({CHART})",
        "",
    ]
    for section in sections:
        parts += [f"## {section.title}", "", section.markdown.rstrip(), ""]
    parts += ["## Machine and versions", "", _environment_table(env, mode, seconds), ""]
    return "\n".join(parts)


def draw_chart(sections: list[Section], path: Path, title: str) -> None:
    """Bars of every ratio, on a log scale: compute per kernel and engine, then the rest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one panel for the compute kernels (a series per engine), one for every other ratio
    compute: dict[str, dict[str, float]] = defaultdict(dict)
    others: dict[str, dict[str, float]] = defaultdict(dict)
    for section in sections:
        for ratio in section.ratios:
            panel = compute if section.title == "Compute" else others
            panel[ratio.group][ratio.label] = ratio.value
    panels = [p for p in (compute, others) if p]
    if not panels:
        return
    fig, axes = plt.subplots(len(panels), 1, figsize=(13, 4.6 * len(panels)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, panel in zip(axes[:, 0], panels, strict=False):
        if panel is compute:  # kernels along x, one bar per engine beside each other
            labels = list(dict.fromkeys(label for values in panel.values() for label in values))
            width = 0.8 / len(panel)
            for i, (group, values) in enumerate(panel.items()):
                xs = [labels.index(label) + (i - (len(panel) - 1) / 2) * width for label in values]
                _bars(ax, xs, list(values.values()), width, group, colors[i % len(colors)])
            ax.set_xticks(range(len(labels)), labels, fontsize=9)
        else:  # every ratio its own bar, coloured by what it compares
            x = 0
            ticks: list[str] = []
            for i, (group, values) in enumerate(panel.items()):
                xs = list(range(x, x + len(values)))
                _bars(ax, xs, list(values.values()), 0.7, group, colors[i % len(colors)])
                ticks += list(values)
                x += len(values)
            ax.set_xticks(range(len(ticks)), ticks, rotation=25, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_ylabel("ratio to its same-run baseline\n(log scale; 1 = equal)", fontsize=8)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        ax.margins(y=0.3)
    axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(ax: Any, xs: list[float], values: list[float], width: float, label: str, color: str) -> None:
    bars = ax.bar(xs, values, width, label=label, color=color)
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], fontsize=6, rotation=90, padding=2)


def write(output: Path, sections: list[Section], env: dict[str, Any], mode: Mode, seconds: float, command: str) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    report = output / REPORT
    report.write_text(render(sections, env, mode, seconds, command))
    draw_chart(sections, output / CHART, f"teabox benchmark ratios — {summary_line(env)}")
    data = {
        "environment": env,
        "mode": "quick" if mode.quick else "full",
        "seconds": seconds,
        "sections": [s.to_dict() for s in sections],
    }
    (output / DATA).write_text(json.dumps(data, indent=1, default=str) + "\n")
    return report

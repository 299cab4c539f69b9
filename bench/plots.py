"""The growth plots of a results file, as PNG files: ``python -m bench.plots RESULTS.json DIRECTORY``.

matplotlib with the Agg backend (no display). One file per curve, named as ``FILES`` says; a
curve missing from the results (``--no-servers``) gives no file. A smoke run's plots say so in
their title.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

FILES = {
    "networks": "networks.png",
    "forwarding": "forwarding.png",
    "user_agent": "user-agent.png",
    "stored": "stored-sessions.png",
    "concurrency": "concurrency.png",
}
LABELS = {
    "django": "Django alone",
    "rs-full": "restricted_sessions, defaults",
    "rs-full-all": "restricted_sessions, every option",
    "seed-rs": "django-restricted-sessions 0.4",
}
COLORS = {"django": "tab:gray", "rs-full": "tab:blue", "rs-full-all": "tab:orange", "seed-rs": "tab:green"}
SMOKE = "smoke: not comparable"


def series(rows: list[dict[str, Any]], key: tuple[str, ...], x: str, y: str) -> dict[tuple[Any, ...], list[Any]]:
    found: dict[tuple[Any, ...], list[tuple[Any, Any]]] = defaultdict(list)
    for row in rows:
        found[tuple(row[k] for k in key)].append((row[x], row[y]))
    return {name: sorted(points) for name, points in found.items()}


def finish(figure: Figure, title: str, smoke: bool, path: Path) -> None:
    figure.suptitle(f"{title} ({SMOKE})" if smoke else title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def axes_setup(axes: Axes, xlabel: str, ylabel: str, base: int = 10) -> None:
    axes.set_xscale("log", base=base)
    axes.xaxis.set_major_formatter(ScalarFormatter())
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")


def plot_growth(rows: list[dict[str, Any]], curve: str, path: Path, smoke: bool) -> None:
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for (stack, kind), points in series(rows, ("stack", "series"), "x", "median_us").items():
        label = LABELS.get(stack, stack) + ("" if curve != "networks" else f", {kind}")
        style = "--" if kind == "IPv6" else "-"
        axes.plot(*zip(*points, strict=True), style, marker="o", color=COLORS.get(stack), label=label)
    refused = [r for r in rows if r["status"] != 200]
    if refused:
        axes.plot([r["x"] for r in refused], [r["median_us"] for r in refused], "kx", label="refused (fails closed)")
    if curve == "networks":
        title, xlabel = "Per-request cost vs configured networks (n trusted + n exempt)", "networks of each kind"
    elif curve == "forwarding":
        title, xlabel = "Per-request cost vs X-Forwarded-For entries (trusted hops)", "entries in X-Forwarded-For"
        axes.set_yscale("log")
        limit = max((r["x"] for r in rows if r["header_bytes"] and r["header_bytes"] <= 8190), default=None)
        if limit:
            axes.axvline(limit, color="tab:red", alpha=0.5, label=f"8 kB header ({limit} entries)")
    else:
        title, xlabel = "Per-request cost vs User-Agent length", "User-Agent bytes"
        axes.set_yscale("log")
    axes_setup(axes, xlabel, "median µs per request (WSGI, db)")
    finish(figure, title, smoke, path)


def plot_stored(rows: list[dict[str, Any]], path: Path, smoke: bool) -> None:
    figure, grid = plt.subplots(1, 2, figsize=(10, 4.5), sharey=False)
    for axes, store in zip(grid, ("PostgreSQL", "Redis"), strict=True):
        chosen = [r for r in rows if r["store"] == store]
        for (stack,), points in series(chosen, ("stack",), "sessions", "median_us").items():
            axes.plot(*zip(*points, strict=True), marker="o", color=COLORS.get(stack), label=LABELS.get(stack, stack))
        axes.set_title(f"{store} ({'db' if store == 'PostgreSQL' else 'cache'} engine)")
        axes_setup(axes, "stored sessions", "median µs per request (WSGI)")
    finish(figure, "Per-request cost vs stored sessions", smoke, path)


def plot_concurrency(rows: list[dict[str, Any]], path: Path, smoke: bool) -> None:
    figure, grid = plt.subplots(2, 2, figsize=(11, 8))
    for line, server in zip(grid, ("gunicorn", "uvicorn"), strict=True):
        chosen = [r for r in rows if r["server"] == server]
        for (stack,), points in series(chosen, ("stack",), "connections", "rps").items():
            label = LABELS.get(stack, stack)
            line[0].plot(*zip(*points, strict=True), marker="o", color=COLORS.get(stack), label=label)
        for quantile, style in (("p50_ms", "-"), ("p99_ms", ":")):
            for (stack,), points in series(chosen, ("stack",), "connections", quantile).items():
                label = f"{LABELS.get(stack, stack)} {quantile[:3]}"
                line[1].plot(*zip(*points, strict=True), style, marker="o", color=COLORS.get(stack), label=label)
        line[0].set_title(f"{server}: requests per second")
        line[1].set_title(f"{server}: latency")
        axes_setup(line[0], "concurrent connections", "requests/s", base=2)
        axes_setup(line[1], "concurrent connections", "ms", base=2)
        line[1].set_yscale("log")
    finish(figure, "Concurrent clients, steady requests, db sessions in PostgreSQL", smoke, path)


def main(argv: list[str]) -> None:
    data = json.loads(Path(argv[0]).read_text())
    directory = Path(argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    smoke = bool(data.get("smoke"))
    growth = data.get("growth", [])
    for curve in ("networks", "forwarding", "user_agent"):
        rows = [r for r in growth if r["curve"] == curve]
        if rows:
            plot_growth(rows, curve, directory / FILES[curve], smoke)
    if data.get("stored"):
        plot_stored(data["stored"], directory / FILES["stored"], smoke)
    if data.get("concurrency"):
        plot_concurrency(data["concurrency"], directory / FILES["concurrency"], smoke)


if __name__ == "__main__":
    main(sys.argv[1:])

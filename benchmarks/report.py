"""Fill the measured parts of docs/performance.md from the results of one benchmark run.

    python -m benchmarks.report RESULTS.json [--write docs/performance.md]

docs/performance.md is written by hand. Between `<!-- measured: NAME -->` and `<!-- /measured -->`
it holds what this module renders from a run's results: tables, and the lines whose figures change
from run to run. `--write` replaces those regions and leaves the prose alone; without it, the
regions are printed. The only numbers worked out here are ratios and per-car divisions.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import json
import os
from pathlib import Path
import platform
import re
import sys
from typing import Any

from homeassistant.const import __version__ as HA_VERSION  # noqa: N812

PLAN_ORDER = ("a", "b", "two", "c", "d", "e", "b+wallbox", "d+wallbox", "e+limit48")
SECTIONS = ("calls", "freshness", "parse", "cpu", "memory", "setup_same_names", "startup")
TARGET_PLANS = ("a", "b", "d", "b+wallbox", "two", "e")
# A cost per car within this factor of the smaller size's counts as linear.
LINEAR_FACTOR = 2.0
# Issue 11's freshness target with the wallbox linked: a plug-in shows within this, in minutes.
WALLBOX_PLAN = "b+wallbox"
WALLBOX_TARGET_MIN = 1.0
REGION = re.compile(
    r"(?P<start><!-- measured: (?P<name>[a-z_]+) -->\n).*?(?P<end><!-- /measured -->)", re.DOTALL
)

type Results = dict[str, Any]


def cpu_model() -> str:
    """Return the CPU model named in /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ms(seconds: float) -> str:
    """Return seconds as milliseconds with three significant digits (seconds from 1 s)."""
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.3g} ms"


def us(seconds: float) -> str:
    """Return seconds as microseconds with three significant digits (milliseconds from 1 ms)."""
    return ms(seconds) if seconds >= 1e-3 else f"{seconds * 1e6:.3g} µs"


def kib(size: float) -> str:
    """Return bytes as KiB, or as MiB from 1 MiB, to a tenth."""
    if abs(size) >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MiB"
    return f"{size / 1024:.1f} KiB"


def minutes(value: float | None) -> str:
    """Return minutes, or a dash when there was nothing to measure."""
    return "-" if value is None else f"{round(value, 1):g} min"


def verdict(met: bool) -> str:
    """Return a target's verdict."""
    return "**met**" if met else "**missed**"


def linear(small: float, large: float, small_size: int) -> str:
    """Return how the per-car cost at the larger size compares with the smaller one's."""
    ratio = large / small
    ok = 1 / LINEAR_FACTOR <= ratio <= LINEAR_FACTOR
    return f"{ratio:.2f}x the per-car cost at {small_size} cars: {'linear' if ok else 'NOT linear'}"


def table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> list[str]:
    """Return a Markdown table."""
    return [
        f"| {' | '.join(header)} |",
        f"| {' | '.join('---' for _ in header)} |",
        *(f"| {' | '.join(str(cell) for cell in row)} |" for row in rows),
    ]


def plans(results: Results) -> dict[str, Any]:
    """Return the plans of the calls benchmark in the order the document discusses them."""
    order = {key: index for index, key in enumerate(PLAN_ORDER)}
    return dict(
        sorted(results["calls"].items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    )


def two_largest(section: dict[str, Any]) -> tuple[int, int]:
    """Return the two largest sizes measured."""
    small, large = sorted(int(size) for size in section)[-2:]
    return small, large


def machine(results: Results) -> list[str]:
    run = results.get("run", {})
    load_start, load_end = run.get("load_average_at_start"), run.get("load_average_at_end")
    load = (
        f"load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end"
        if load_start and load_end
        else "load average not recorded"
    )
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return table(
        ("machine", ""),
        [
            ("run", f"{run.get('started', 'unknown')} to {run.get('finished', 'unknown')} (UTC)"),
            ("CPU", cpu_model()),
            ("cores", f"{usable} usable ({os.cpu_count()} online); {load}"),
            ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
            ("Home Assistant", HA_VERSION),
            ("system", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ],
    )


def calls(results: Results) -> list[str]:
    days = plans(results)
    rows = []
    for key, day in days.items():
        target = day["target"]
        rows.append(
            (
                key,
                day["title"],
                f"{day['calls_per_day']:.1f} ({day['vehicles_calls_per_day']:.1f} + "
                f"{day['logins_per_day']:.2f})",
                f"{day['former_calls_per_day']:.0f}",
                f"{day['ratio']:.2f}x",
                "no target"
                if target is None
                else f"{verdict(day['ratio'] >= target)} (≥ {target:g}x)",
            )
        )
    lines = table(
        (
            "plan",
            "the day",
            "calls a day (vehicles + logins)",
            "former integration",
            "fewer calls",
            "target",
        ),
        rows,
    )
    lines += ["", "The cars' days, the same every day (times in UTC):", ""]
    for key, day in days.items():
        cars = "; ".join(f"car {index + 1} {car}" for index, car in enumerate(day["cars"]))
        lines.append(f"- {key}: {cars}.")
    unexpected = {
        key: day["statuses"]
        for key, day in days.items()
        if any(status != "200" for counts in day["statuses"].values() for status in counts)
    }
    lines += [
        "",
        "Every request was answered 200 (no token was ever refused)."
        if not unexpected
        else f"Requests not answered 200: {unexpected}.",
    ]
    return lines


def freshness(results: Results) -> list[str]:
    rows = []
    for key, day in plans(results).items():
        wallbox = "-"
        if day.get("max_wallbox_plug_in_delay_min") is not None:
            wallbox = (
                f"{minutes(day['mean_wallbox_plug_in_delay_min'])}, "
                f"{minutes(day['max_wallbox_plug_in_delay_min'])}"
            )
        rows.append(
            (
                key,
                minutes(day["max_poll_gap_while_charging_min"]),
                minutes(day["max_delay_to_show_change_min"]),
                minutes(day["former_max_delay_to_show_change_min"]),
                wallbox,
            )
        )
    lines = table(
        (
            "plan",
            "longest gap between polls while a car charged",
            "longest wait until a plug/charge change showed",
            "former integration",
            "plug-in visible after the wallbox event (mean, longest)",
        ),
        rows,
    )
    plug_in = results.get("freshness", {}).get("plug_in")
    if plug_in is not None:
        lines += [
            "",
            f"Without a wallbox, a parked car plugged in 0, 1, ..., 14 minutes after an idle poll "
            f"showed after {plug_in['mean_min']:.1f} minutes on average and {plug_in['max_min']:g} "
            f"at most (the former schedule: {plug_in['former_mean_min']:.1f} and "
            f"{plug_in['former_max_min']:g}).",
        ]
    return lines


def limit(results: Results) -> list[str]:
    lines: list[str] = []
    for key, day in plans(results).items():
        if not (limited := day.get("daily_limit")):
            continue
        whole = limited["whole_local_days"]
        counts = limited["requests_per_local_day"]
        empty = limited["windows_without_poll"]
        lines += [
            f"Plan {key}, a limit of {limited['limit']}, local days of {limited['time_zone']}:",
            "",
            *table(
                ("local day", "requests"),
                [(f"{date}{' (whole)' if date in whole else ''}", n) for date, n in counts.items()],
            ),
            "",
            f"No local day over {limited['limit']}: "
            f"{verdict(limited['max_requests_per_local_day'] <= limited['limit'])} (at most "
            f"{limited['max_requests_per_local_day']}). Longest gap between polls: "
            f"{limited['max_poll_gap_min']:.1f} min. A poll in every "
            f"{limited['window_hours']:g}-hour window of each whole local day: "
            + (verdict(True) if not empty else f"{verdict(False)} (none in {', '.join(empty)})")
            + ".",
        ]
    return lines


def targets(results: Results) -> list[str]:
    days = plans(results)
    lines = []
    for key in TARGET_PLANS:
        if (day := days.get(key)) is None or day["target"] is None:
            continue
        met = day["ratio"] >= day["target"]
        line = f"- Plan {key}: {day['ratio']:.2f}x fewer calls, target {day['target']:g}x: {verdict(met)}"
        if not met:
            allowed = day["former_calls_per_day"] / day["target"]
            line += f" ({day['calls_per_day']:.0f} calls a day made, at most {allowed:.0f} allowed)"
        lines.append(line + ".")
    wallbox = days.get(WALLBOX_PLAN, {})
    if (longest := wallbox.get("max_wallbox_plug_in_delay_min")) is not None:
        lines.append(
            f"- Plan {WALLBOX_PLAN}: a plug-in showed {longest * 60:g} s after the wallbox's event "
            f"at most, target within {WALLBOX_TARGET_MIN * 60:g} s: "
            f"{verdict(longest <= WALLBOX_TARGET_MIN)}."
        )
    return lines


def cpu(results: Results) -> list[str]:
    measured, parse = results["cpu"], results.get("parse", {})
    rows = []
    for size in sorted(measured, key=int):
        row, cars = measured[size], int(size)
        parsed = parse.get(size, {"body_bytes": float("nan"), "parse_s": float("nan")})
        rows.append(
            (
                cars,
                row["entities"] // cars,
                kib(parsed["body_bytes"]),
                ms(row["poll_unchanged_thread_s"]),
                ms(row["poll_unchanged_process_s"]),
                ms(row["poll_changed_thread_s"]),
                ms(parsed["parse_s"]),
                us(row["poll_unchanged_thread_s"] / cars),
                us(parsed["parse_s"] / cars),
            )
        )
    lines = table(
        (
            "cars",
            "enabled entities a car",
            "body",
            "poll, Home Assistant",
            "poll, process",
            "poll, all changed (Home Assistant)",
            "parse",
            "poll per car",
            "parse per car",
        ),
        rows,
    )
    small, large = two_largest(measured)
    low, high = measured[str(small)], measured[str(large)]
    span = large - small
    lines += [
        "",
        f"Slope from {small} to {large} cars: "
        f"{us((high['poll_unchanged_thread_s'] - low['poll_unchanged_thread_s']) / span)} a car "
        f"per poll ({us((high['poll_changed_thread_s'] - low['poll_changed_thread_s']) / span)} "
        "when every car changed). A poll's cost per car at "
        f"{large} cars is {linear(low['poll_unchanged_thread_s'] / small, high['poll_unchanged_thread_s'] / large, small)}.",
    ]
    if str(small) in parse and str(large) in parse:
        low_parse, high_parse = parse[str(small)]["parse_s"], parse[str(large)]["parse_s"]
        lines.append(
            f"Parsing: {us((high_parse - low_parse) / span)} a car from {small} to {large} cars; "
            f"per car at {large} cars it is {linear(low_parse / small, high_parse / large, small)}."
        )
    return lines


def setup(results: Results) -> list[str]:
    (size, same), distinct = next(iter(results["setup_same_names"].items())), results["cpu"]
    return [
        f"Setting an account of {size} cars up the first time took "
        f"{distinct[size]['setup_process_s']:.2f} s of CPU with distinct models, and "
        f"{same['setup_process_s']:.2f} s with the same model for all."
    ]


def memory(results: Results) -> list[str]:
    measured = results["memory"]
    lines = table(
        ("cars", "retained", "per car", "coordinator data per car", "growth over 10 polls"),
        [
            (
                size,
                kib(row["retained_bytes"]),
                kib(row["per_car_bytes"]),
                f"{row['coordinator_data_per_car_bytes']:.0f} B",
                f"{row['growth_over_polls_bytes'] / 1024:+.1f} KiB",
            )
            for size, row in sorted(measured.items(), key=lambda item: int(item[0]))
        ],
    )
    small, large = two_largest(measured)
    low, high = measured[str(small)], measured[str(large)]
    lines += [
        "",
        f"Slope from {small} to {large} cars: "
        f"{kib((high['retained_bytes'] - low['retained_bytes']) / (large - small))} a car. The "
        f"memory per car at {large} cars is "
        f"{linear(low['per_car_bytes'], high['per_car_bytes'], small)}.",
        "",
        f"Where a car's memory goes, at {large} cars:",
        "",
        *table(
            ("part", "per car"),
            [
                (name, kib(size))
                for name, size in sorted(high["parts_per_car_bytes"].items(), key=lambda x: -x[1])
            ],
        ),
    ]
    return lines


def startup(results: Results) -> list[str]:
    demo = results["startup"]["demo"]
    rounds = demo["rounds"]

    def each(key: str, show: Callable[[float], str] = lambda value: f"{value:.2f}") -> str:
        return ", ".join(show(start[key]) for start in rounds)

    return [
        f"{demo['integrations']} integrations loaded; the demo account has {demo['cars']} cars "
        f"and {demo['entities']} enabled entities; {len(rounds)} timed starts.",
        "",
        *table(
            ("figure", "median", "each start"),
            [
                (
                    "process start to the integration's first state (its `last_updated`)",
                    f"{demo['first_state_s']:.2f} s",
                    each("first_state_s"),
                ),
                (
                    "process start to every car's battery level",
                    f"{demo['all_batteries_s']:.2f} s",
                    each("all_batteries_s"),
                ),
                ("CPU time of the process by then", f"{demo['cpu_s']:.2f} s", each("cpu_s")),
                (
                    "Home Assistant's own \"initialized in\" (from bootstrap, after Python's imports)",
                    f"{demo['initialized_s']:.2f} s",
                    each("initialized_s"),
                ),
                (
                    "the integration's setup time, as Home Assistant reports it",
                    ms(demo["setup_info_s"]),
                    each("setup_info_s", ms),
                ),
                (
                    "every integration's setup time, summed",
                    f"{demo['setup_info_all_s']:.2f} s",
                    each("setup_info_all_s"),
                ),
            ],
        ),
        "",
        f"Over the {len(rounds)} starts the simulator received {demo['vehicles_calls']} vehicles "
        f"calls and {demo['logins']} logins.",
    ]


REGIONS: dict[str, Callable[[Results], list[str]]] = {
    "machine": machine,
    "calls": calls,
    "freshness": freshness,
    "limit": limit,
    "targets": targets,
    "cpu": cpu,
    "setup": setup,
    "memory": memory,
    "startup": startup,
}


def render(results: Results) -> dict[str, str]:
    """Return each measured region's text for these results."""
    return {name: "\n".join(make(results)) for name, make in REGIONS.items()}


def fill(document: str, regions: dict[str, str]) -> str:
    """Return the document with each measured region replaced; every region must be there once."""
    found = [match["name"] for match in REGION.finditer(document)]
    if sorted(found) != sorted(regions):
        msg = f"the document's measured regions {found} are not {sorted(regions)}"
        raise ValueError(msg)
    return REGION.sub(
        lambda match: f"{match['start']}{regions[match['name']]}\n{match['end']}", document
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--write", type=Path, metavar="FILE", help="fill this file's regions")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    missing = [section for section in SECTIONS if section not in results]
    if missing:
        sys.stderr.write(f"the run was partial (missing: {missing}); nothing to report\n")
        return 1
    regions = render(results)
    for name, text in regions.items():
        sys.stdout.write(f"## {name}\n\n{text}\n\n")
    if args.write:
        if results.get("run", {}).get("exit_status") != 0:
            sys.stderr.write(f"not writing {args.write}: a benchmark failed\n")
            return 1
        args.write.write_text(fill(args.write.read_text(encoding="utf-8"), regions), "utf-8")
        sys.stderr.write(f"wrote {args.write}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

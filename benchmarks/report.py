"""Fill the measured regions of docs/performance.md with tables from one benchmark run.

    python -m benchmarks.report RESULTS.json [--write docs/performance.md]

The function NAME renders the region `<!-- measured: NAME -->` ... `<!-- /measured -->`. Without
`--write` the regions the results allow are printed; `--write` replaces the regions' contents, and
only after a complete run that passed. The only arithmetic is ratios and divisions per car.
"""

import argparse
from collections.abc import Callable, Iterable
import json
import os
from pathlib import Path
import platform
import re
import string
import sys
from typing import Any

from homeassistant.const import __version__ as HA_VERSION  # noqa: N812

type Record = dict[str, Any]
PLANS = ("a", "b", "two", "c", "d", "e", "b+wallbox", "d+wallbox", "e+limit48", "f+limit48")
WALLBOX_PLAN, WALLBOX_TARGET_MIN = "b+wallbox", 1.0  # issue 11: a plug-in shows within a minute
LIMIT_PLANS = ("e+limit48", "f+limit48")
# Issue 20, on plan f: the longest gap while charging, the end and a timer start seen, a plug-in.
NEED_PLAN, NEED_TARGETS_MIN = "f+limit48", {"gap": 15.0, "end": 10.0, "start": 35.0, "plug": 1.0}
LINEAR = 2.0  # a figure per car within this factor of the one at the size before counts as linear
REGION = re.compile(r"(<!-- measured: ([a-z_]+) -->\n).*?(<!-- /measured -->)", re.DOTALL)

# Each table: a header line, then row templates (str.format with UNITS) filled by every record.
MACHINE = """machine |
run | {started} to {finished} (UTC)
CPU | {cpu}
cores | {usable} usable ({online} online); load average {load_average_at_start[0]:.2f} at the start, {load_average_at_end[0]:.2f} at the end
Python | {python}
Home Assistant | {home_assistant}
system | {system}"""
CALLS = """plan | the day | calls a day (vehicles + logins) | former integration | fewer calls | every request answered 200
{plan} | {title} | {calls_per_day:.1f} ({vehicles_calls_per_day:.1f} + {logins_per_day:.2f}) | {former_calls_per_day:.0f} | {ratio:.2f}x | {all_200}"""
CARS = """plan | the cars' days, the same every day (UTC)
{plan} | {cars}"""
FRESHNESS = """plan | longest gap between polls while a car charged | longest wait until a plug/charge change showed | of which a charge's start | a charge's end | former integration | plug-in visible after the wallbox event: mean | longest
{plan} | {max_poll_gap_while_charging_min:min} | {max_delay_to_show_change_min:min} | {max_delay_to_show_a_charge_start_min:min} | {max_delay_to_show_a_charge_end_min:min} | {former_max_delay_to_show_change_min:min} | {mean_wallbox_plug_in_delay_min:min} | {max_wallbox_plug_in_delay_min:min}"""
PARKED = """no wallbox: a parked car plugged in 0, 1, ..., 14 minutes after an idle poll | showed after, mean | longest
this integration | {mean_min:min} | {max_min:min}
the former schedule | {former_mean_min:min} | {former_max_min:min}"""
LOCAL_DAYS = """local day ({time_zone}) | requests, plan {plan}
{day} | {requests}"""
LIMIT = """plan | target | measured | met
{plan} | ≤ {limit} requests on any local day | {max_requests_per_local_day} at most | {within:met}
{plan} | a poll in every {window_hours:g}-hour window of each whole local day | windows without one: {missed} | {every_window:met}
{plan} | longest gap between polls (no target) | {max_poll_gap_min:min} | -"""
TARGETS = """plan | target: fewer calls than the former integration | measured | met
{plan} | ≥ {target:g}x | {ratio:.2f}x | {met:met}"""
NEED = """plan | target: under the limit, spent by need (issue 20) | longest measured | met
{plan} | polls while the car charges at most {gap:min} apart | {max_poll_gap_while_charging_min:min} | {gap_met:met}
{plan} | the charge's end (its target reached) seen within {end:min} | {max_delay_to_show_a_charge_end_min:min} | {end_met:met}
{plan} | a timer's start seen within {start:min} | {max_delay_to_show_a_charge_start_min:min} | {start_met:met}
{plan} | a plug-in seen within {plug:min} of the wallbox's event | {max_wallbox_plug_in_delay_min:min} | {plug_met:met}"""
WALLBOX = """plan | target: a plug-in showing after the wallbox's event within | longest measured | met
{plan} | {target:min} | {max_wallbox_plug_in_delay_min:min} | {met:met}"""
CPU = """cars | enabled entities a car | body | poll, Home Assistant | poll, process | poll, all changed (Home Assistant) | parse | poll per car | parse per car
{cars} | {entities:.0f} | {body_bytes:B} | {poll_unchanged_thread_s:s} | {poll_unchanged_process_s:s} | {poll_changed_thread_s:s} | {parse_s:s} | {poll_per_car:s} | {parse_per_car:s}"""
LINEARITY = f"""per car | sizes | ratio | linear (ratio within {1 / LINEAR:g}x to {LINEAR:g}x)
{{figure}} | {{large}} over {{small}} cars | {{ratio:.2f}}x | {{ratio:linear}}"""
SETUP = """cars | models | first set-up, CPU time
{cars} | all distinct | {distinct:s}
{cars} | all the same | {same:s}"""
MEMORY = """cars | retained | per car | coordinator data per car | growth over {polls} polls
{cars} | {retained_bytes:B} | {per_car_bytes:B} | {coordinator_data_per_car_bytes:.0f} B | {growth_over_polls_bytes:B}"""
PARTS = """part | per car at {cars} cars
{part} | {size:B}"""
STARTS = """integrations loaded | cars | enabled entities | timed starts | vehicles calls | logins
{integrations} | {cars} | {entities} | {starts} | {vehicles_calls} | {logins}"""
STARTUP = """figure | median | each start
process start to the integration's first state (its `last_updated`) | {first_state_s:s} | {each[first_state_s]}
process start to every car's battery level | {all_batteries_s:s} | {each[all_batteries_s]}
CPU time of the process by then | {cpu_s:s} | {each[cpu_s]}
Home Assistant's own "initialized in" (from bootstrap, after Python's imports) | {initialized_s:s} | {each[initialized_s]}
the integration's setup time, as Home Assistant reports it | {setup_info_s:s} | {each[setup_info_s]}
every integration's setup time, summed | {setup_info_all_s:s} | {each[setup_info_all_s]}"""
UNITS: dict[str, Callable[[Any], str]] = {  # format specs for seconds, bytes, minutes, verdicts
    "s": lambda s: (
        f"{s:.2f} s" if s >= 1 else f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} µs"
    ),
    "B": lambda size: f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB",
    "min": lambda minutes: "-" if minutes is None else f"{round(minutes, 1):g} min",
    "met": lambda met: "**met**" if met else "**missed**",
    "linear": lambda ratio: UNITS["met"](1 / LINEAR <= ratio <= LINEAR),
}


class Cells(string.Formatter):
    """str.format that also knows UNITS' specs: {seconds:s}, {bytes:B}, {minutes:min}, {ok:met}."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        unit = UNITS.get(format_spec)
        return unit(value) if unit else super().format_field(value, format_spec)


def table(spec: str, records: Iterable[Record], **header: Any) -> str:
    """Return a Markdown table: the spec's header, then its row templates filled by each record."""
    head, *templates = spec.splitlines()
    rows = [Cells().format(template, **record) for record in records for template in templates]
    rule = " | ".join("---" for _ in head.split("|"))
    return "\n".join(f"| {line} |" for line in [head.format(**header), rule, *rows])


def plans(results: Record) -> list[Record]:
    return [{"plan": key, **results["calls"][key]} for key in PLANS]


def sizes(section: Record, **per_car: str) -> list[Record]:
    """Return each size's figures, smallest first; NAME=KEY adds KEY divided by the cars."""
    ordered = sorted((int(cars), row) for cars, row in section.items())
    return [{"cars": n, **row} | {k: row[v] / n for k, v in per_car.items()} for n, row in ordered]


def linear(figure: str, section: Record, key: str) -> Record:
    """Return the figure per car at the largest size over the one at the size before."""
    small, large = sizes(section, per_car=key)[-2:]
    ratio = large["per_car"] / small["per_car"]
    return {"figure": figure, "small": small["cars"], "large": large["cars"], "ratio": ratio}


def machine(results: Record) -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text("utf-8") if Path("/proc/cpuinfo").exists() else ""
    model = re.findall(r"model name\s*: (.*)", cpuinfo) or [platform.processor() or "unknown"]
    python = f"{platform.python_version()} ({platform.python_implementation()})"
    system = f"{platform.system()} {platform.release()} {platform.machine()}"
    about = {"cpu": model[0], "usable": os.process_cpu_count(), "online": os.cpu_count()}
    about |= {"python": python, "home_assistant": HA_VERSION, "system": system}
    return table(MACHINE, [results["run"] | about])


def calls(results: Record) -> str:
    days = []
    for day in plans(results):
        answers = {code for codes in day["statuses"].values() for code in codes}
        cars = "; ".join(f"car {n} {car}" for n, car in enumerate(day["cars"], 1))
        days.append(day | {"cars": cars, "all_200": "yes" if answers == {"200"} else "**no**"})
    return f"{table(CALLS, days)}\n\n{table(CARS, days)}"


def freshness(results: Record) -> str:
    parked = table(PARKED, [results["freshness"]["plug_in"]])
    return f"{table(FRESHNESS, plans(results))}\n\n{parked}"


def limit(results: Record) -> str:
    tables = []
    for plan in LIMIT_PLANS:
        limited = results["calls"][plan]["daily_limit"] | {"plan": plan}
        whole, missed = limited["whole_local_days"], limited["windows_without_poll"]
        per_day = limited["requests_per_local_day"].items()
        days = [{"day": day + " (whole)" * (day in whole), "requests": n} for day, n in per_day]
        limited |= {"within": limited["max_requests_per_local_day"] <= limited["limit"]}
        limited |= {"missed": ", ".join(missed) or "none", "every_window": not missed}
        tables += [table(LOCAL_DAYS, days, **limited), table(LIMIT, [limited])]
    return "\n\n".join(tables)


def targets(results: Record) -> str:
    aimed = [day for day in plans(results) if day["target"] is not None]
    aimed = [day | {"met": day["ratio"] >= day["target"]} for day in aimed]
    wallbox = results["calls"][WALLBOX_PLAN] | {"plan": WALLBOX_PLAN, "target": WALLBOX_TARGET_MIN}
    wallbox["met"] = wallbox["max_wallbox_plug_in_delay_min"] <= WALLBOX_TARGET_MIN
    need = results["calls"][NEED_PLAN] | {"plan": NEED_PLAN} | NEED_TARGETS_MIN
    measured = {
        "gap": "max_poll_gap_while_charging_min",
        "end": "max_delay_to_show_a_charge_end_min",
        "start": "max_delay_to_show_a_charge_start_min",
        "plug": "max_wallbox_plug_in_delay_min",
    }
    for key, figure in measured.items():
        need[f"{key}_met"] = need[figure] is not None and need[figure] <= NEED_TARGETS_MIN[key]
    return f"{table(TARGETS, aimed)}\n\n{table(WALLBOX, [wallbox])}\n\n{table(NEED, [need])}"


def cpu(results: Record) -> str:
    polls = sizes(results["cpu"], entities="entities", poll_per_car="poll_unchanged_thread_s")
    parses = {row["cars"]: row for row in sizes(results["parse"], parse_per_car="parse_s")}
    by_size = table(CPU, [poll | parses[poll["cars"]] for poll in polls])
    per_car = [
        linear("poll, Home Assistant", results["cpu"], "poll_unchanged_thread_s"),
        linear("poll, all changed (Home Assistant)", results["cpu"], "poll_changed_thread_s"),
        linear("parse", results["parse"], "parse_s"),
    ]
    return f"{by_size}\n\n{table(LINEARITY, per_car)}"


def setup(results: Record) -> str:
    cars, same = next(iter(results["setup_same_names"].items()))
    distinct = results["cpu"][cars]["setup_process_s"]
    return table(SETUP, [{"cars": cars, "distinct": distinct, "same": same["setup_process_s"]}])


def memory(results: Record) -> str:
    by_size = sizes(results["memory"])
    parts = sorted(by_size[-1]["parts_per_car_bytes"].items(), key=lambda part: -part[1])
    parts_table = table(PARTS, [{"part": p, "size": size} for p, size in parts], **by_size[-1])
    per_car = table(LINEARITY, [linear("memory", results["memory"], "retained_bytes")])
    return f"{table(MEMORY, by_size, **by_size[-1])}\n\n{per_car}\n\n{parts_table}"


def startup(results: Record) -> str:
    demo, rounds = results["startup"]["demo"], results["startup"]["demo"]["rounds"]
    each = {key: ", ".join(UNITS["s"](start[key]) for start in rounds) for key in rounds[0]}
    starts = table(STARTS, [demo | {"starts": len(rounds)}])
    return f"{starts}\n\n{table(STARTUP, [demo | {'each': each}])}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fill docs/performance.md's measured regions.")
    parser.add_argument("results", type=Path)
    parser.add_argument("--write", type=Path, metavar="FILE", help="fill this file's regions")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    regions = {}
    for region in (machine, calls, freshness, limit, targets, cpu, setup, memory, startup):
        try:
            regions[region.__name__] = region(results)
        except KeyError as missing:  # a benchmark, or one of its plans, did not run
            print(f"{region.__name__}: not rendered, no {missing} in the results", file=sys.stderr)
        else:
            print(f"## {region.__name__}\n\n{regions[region.__name__]}\n")
    if not args.write:
        return 0
    document = args.write.read_text(encoding="utf-8")
    status = results.get("run", {}).get("exit_status")
    unfilled = sorted({match[2] for match in REGION.finditer(document)} ^ set(regions))
    if status != 0 or unfilled:
        print(
            f"not writing {args.write}: exit status {status}, unfilled {unfilled}", file=sys.stderr
        )
        return 1
    args.write.write_text(REGION.sub(lambda m: f"{m[1]}{regions[m[2]]}\n{m[3]}", document), "utf-8")
    print(f"wrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

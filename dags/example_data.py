"""Small sample data for the example pipelines: weather-station readings and a calibration file.

Made here, deterministically, so the examples run without a network.
"""

from __future__ import annotations

import json
import os
import random

STATIONS = ("station-a", "station-b", "station-c")


def data_dir() -> str:
    """Where the examples read their raw data: ``$DATASTORES_EXAMPLE_DATA`` or ``$AIRFLOW_HOME/example-data``."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return os.environ.get("DATASTORES_EXAMPLE_DATA") or os.path.join(home, "example-data")


def make_example_data(directory: str | None = None, *, rows: int = 48) -> str:
    """Write ``raw/<station>.csv`` (hourly temperature and humidity) and ``calibration.json`` unless
    they exist. Returns the directory."""
    directory = directory or data_dir()
    raw = os.path.join(directory, "raw")
    os.makedirs(raw, exist_ok=True)
    for index, station in enumerate(STATIONS):
        path = os.path.join(raw, f"{station}.csv")
        if os.path.exists(path):
            continue
        rng = random.Random(index)
        lines = ["hour,temperature_c,humidity_pct"]
        for hour in range(rows):
            temperature = 12 + 6 * ((hour % 24) / 24) + rng.uniform(-1, 1)
            humidity = 90 - 2.1 * temperature + rng.uniform(-3, 3)
            lines.append(f"{hour},{temperature:.2f},{humidity:.1f}")
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
    calibration = os.path.join(directory, "calibration.json")
    if not os.path.exists(calibration):
        with open(calibration, "w") as handle:
            json.dump({"station-a": 0.0, "station-b": -0.4, "station-c": 0.25}, handle, indent=2)
    return directory


def add_reading(directory: str | None = None, *, station: str = "station-b") -> str:
    """Append one reading to a station's file (the demo's "the data changed")."""
    path = os.path.join(directory or data_dir(), "raw", f"{station}.csv")
    with open(path) as handle:
        hours = sum(1 for _ in handle) - 1
    with open(path, "a") as handle:
        handle.write(f"{hours},17.80,52.3\n")
    return path

"""Example pipeline with TaskFlow: weather readings -> cleaned features -> a fitted model.

Each step is ``@task.datastore``: its inputs are staged and hashed (md5, sha1, sha256 in the log and
in XCom), a change since the previous run is reported, and what it writes to ``outputs_dir`` becomes
a new immutable version in the store (the default store is ``$AIRFLOW_HOME/datastores``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pendulum
from airflow.sdk import dag, task
from example_data import data_dir, make_example_data

DATA = data_dir()


@dag(
    dag_id="datastores_example_pipeline",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["datastores", "example"],
    doc_md=__doc__,
)
def example_pipeline():
    @task
    def sample_data() -> str:
        """Make the raw data on first use (a real pipeline's data would already be in a store)."""
        return make_example_data(DATA)

    @task.datastore(
        inputs={"readings": f"file://{DATA}/raw/*.csv", "calibration": f"file://{DATA}/calibration.json"},
        on_input_change="warn",
    )
    def prepare(readings: Path, calibration: Path, outputs_dir: Path) -> dict:
        """Apply each station's calibration offset and keep plausible readings."""
        offsets = json.loads((calibration / "calibration.json").read_text())
        kept = dropped = 0
        with open(outputs_dir / "features.csv", "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["station", "hour", "temperature_c", "humidity_pct"])
            for path in sorted(readings.glob("*.csv")):
                station = path.stem
                for row in csv.DictReader(path.open()):
                    temperature = float(row["temperature_c"]) + offsets.get(station, 0.0)
                    humidity = float(row["humidity_pct"])
                    if not (-40 < temperature < 60 and 0 <= humidity <= 100):
                        dropped += 1
                        continue
                    writer.writerow([station, row["hour"], f"{temperature:.2f}", f"{humidity:.1f}"])
                    kept += 1
        summary = {"rows": kept, "dropped": dropped}
        (outputs_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        return summary

    @task.datastore
    def train(features: Path, outputs_dir: Path) -> dict:
        """Fit humidity = slope * temperature + intercept by least squares."""
        rows = list(csv.DictReader((features / "features.csv").open()))
        xs = [float(r["temperature_c"]) for r in rows]
        ys = [float(r["humidity_pct"]) for r in rows]
        n = len(xs)
        mean_x, mean_y = sum(xs) / n, sum(ys) / n
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)
        intercept = mean_y - slope * mean_x
        rmse = (sum((slope * x + intercept - y) ** 2 for x, y in zip(xs, ys, strict=True)) / n) ** 0.5
        model = {"slope": round(slope, 4), "intercept": round(intercept, 4), "rmse": round(rmse, 3), "rows": n}
        (outputs_dir / "model.json").write_text(json.dumps(model, indent=2))
        return model

    prepared = prepare()
    sample_data() >> prepared
    train(features=prepared)


example_pipeline()

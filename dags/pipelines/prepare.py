"""Step `Prepare readings`: keep the chosen hours above a minimum, in $UNITS (argparse, as on Valohai)."""

import argparse
import csv
import os
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--min-celsius", type=float, default=-40)
parser.add_argument("--hours", default="")
parser.add_argument("--label", default="")
parser.add_argument("--verbose", action="store_true")
args = parser.parse_args()
hours = {int(h) for h in args.hours.split(",") if h}
source = Path(os.environ["DATASTORE_INPUT_READINGS"]) / "readings.csv"
outputs = Path(os.environ["VH_OUTPUTS_DIR"])
with open(outputs / "clean.csv", "w", newline="") as out:
    writer = csv.writer(out)
    writer.writerow(["hour", "value"])
    for row in csv.DictReader(source.open()):
        celsius = float(row["temperature_c"])
        if celsius >= args.min_celsius and (not hours or int(row["hour"]) in hours):
            value = celsius + 273.15 if os.environ.get("UNITS") == "kelvin" else celsius
            writer.writerow([row["hour"], f"{value:.2f}"])
print(f"label={args.label} min={args.min_celsius} hours={sorted(hours)} verbose={args.verbose}")

"""Step `Fit smoothing`: exponential smoothing of the clean series with one smoothing factor."""

import argparse
import csv
import json
import os
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--smoothing", type=float, required=True)
parser.add_argument("--label", default="")
args = parser.parse_args()
values = [float(r["value"]) for r in csv.DictReader((Path(os.environ["DATASTORE_INPUT_CLEAN"]) / "clean.csv").open())]
level = values[0]
error = 0.0
for value in values[1:]:
    error += (value - level) ** 2
    level = args.smoothing * value + (1 - args.smoothing) * level
fit = {"smoothing": args.smoothing, "label": args.label, "units": os.environ.get("UNITS"),
       "sse": round(error, 4), "raw_staged": os.path.isdir(os.environ.get("DATASTORE_INPUT_RAW", "/nonexistent"))}
(Path(os.environ["DATASTORE_OUTPUTS"]) / "fit.json").write_text(json.dumps(fit, indent=2))
print(fit)

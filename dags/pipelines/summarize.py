"""Step `summarize`: read the clean step's CSV (staged by the edge), write summary.json."""

import csv
import json
import os
from pathlib import Path

rows = list(csv.DictReader((Path(os.environ["DATASTORE_INPUT_CLEAN"]) / "kelvin.csv").open()))
kelvin = [float(r["kelvin"]) for r in rows]
summary = {"readings": len(kelvin), "mean_kelvin": round(sum(kelvin) / len(kelvin), 2)}
(Path(os.environ["DATASTORE_OUTPUTS"]) / "summary.json").write_text(json.dumps(summary, indent=2))
print(summary)

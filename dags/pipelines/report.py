"""Step `Report`: the best smoothing factor of the sweep (one fit.json per mapped task, staged by the edge)."""

import json
import os
from pathlib import Path

fits = [json.loads(p.read_text()) for p in sorted(Path(os.environ["DATASTORE_INPUT_FITS"]).rglob("fit.json"))]
best = min(fits, key=lambda f: f["sse"])
report = {"title": json.loads(os.environ["DATASTORE_PARAMETERS"])["title"], "fits": len(fits), "best": best,
          "manual": os.environ.get("DATASTORE_INPUT_MANUAL_URLS")}
(Path(os.environ["DATASTORE_OUTPUTS"]) / "report.json").write_text(json.dumps(report, indent=2))
print(report)

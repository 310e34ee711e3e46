"""Step `clean`: read $DATASTORE_INPUT_READINGS/*.csv, write $DATASTORE_OUTPUTS/kelvin.csv."""

import csv
import os
from pathlib import Path

minimum = float(os.environ.get("MIN_CELSIUS", "-40"))
outputs = Path(os.environ["DATASTORE_OUTPUTS"])
with open(outputs / "kelvin.csv", "w", newline="") as out:
    writer = csv.writer(out)
    writer.writerow(["hour", "kelvin"])
    for path in sorted(Path(os.environ["DATASTORE_INPUT_READINGS"]).glob("*.csv")):
        for row in csv.DictReader(path.open()):
            celsius = float(row["temperature_c"])
            if celsius >= minimum:
                writer.writerow([row["hour"], f"{celsius + 273.15:.2f}"])
print("wrote", outputs / "kelvin.csv")

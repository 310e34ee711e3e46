"""`make demo`: run the example pipeline twice on the default local store, with a changed input between.

Everything lives under .demo/ in the repository (ignored by git): an Airflow home with a SQLite
database, the example's raw data, the store with the versions, and the full Airflow logs of each run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, ".demo")
HOME = os.path.join(DEMO, "airflow")
DAG_ID = "datastores_example_pipeline"
BIN = os.path.dirname(sys.executable)

ENV = {
    **os.environ,
    "AIRFLOW_HOME": HOME,
    "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(REPO, "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "DATASTORES_EXAMPLE_DATA": os.path.join(HOME, "example-data"),
    "PYTHONPATH": os.path.join(REPO, "dags"),
}

# Log records of our operators, as `airflow dags test` prints them (a record may span lines).
_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \[")
_OURS = re.compile(r"^\S+ \[(?P<level>\w+)\s*\] (?P<msg>.*?)\s+\[airflow\.task\.operators\.airflow_datastores[^\]]*\]",
                   re.DOTALL)
_TASK = re.compile(r"\[DAG TEST\] running task <TaskInstance: [\w.-]+\.(?P<task>[\w-]+) ")
_STATE = re.compile(r"new_state=(?P<state>\w+)")


def say(text: str = "") -> None:
    print(text, flush=True)


def run(argv: list[str], *, log_path: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, env=ENV, cwd=REPO, capture_output=True, text=True)
    if log_path:
        with open(log_path, "w") as handle:
            handle.write(result.stdout + result.stderr)
    return result


def fresh_home() -> None:
    """A new demo home; the initialised database is kept as a template so reruns start in seconds."""
    template = os.path.join(DEMO, "airflow.db.template")
    if os.path.exists(HOME):
        shutil.rmtree(HOME)
    os.makedirs(HOME)
    if not os.path.exists(template):
        say("Preparing an Airflow home with a SQLite database (first time only, about 20 s) ...")
        result = run([os.path.join(BIN, "airflow"), "db", "migrate"], log_path=os.path.join(DEMO, "db-migrate.log"))
        if result.returncode != 0:
            sys.exit(f"airflow db migrate failed; see {DEMO}/db-migrate.log")
        shutil.copy(os.path.join(HOME, "airflow.db"), template)
    else:
        shutil.copy(template, os.path.join(HOME, "airflow.db"))


def run_pipeline(number: int) -> None:
    log_path = os.path.join(DEMO, f"run-{number}.log")
    started = time.monotonic()
    result = run([os.path.join(BIN, "airflow"), "dags", "test", DAG_ID], log_path=log_path)
    task = None
    for line in _records(result.stdout + result.stderr):
        if match := _TASK.search(line):
            task = match["task"]
            say(f"  -- task {task}")
        elif match := _OURS.match(line):
            level = "" if match["level"] == "info" else f"{match['level'].upper()}: "
            for text in match["msg"].split("\n"):
                say(f"     {level}{_short(text)}")
        elif task and "Task instance state updated" in line and (match := _STATE.search(line)):
            say(f"     => {match['state']}")
    say("  (task paths are relative to each task's work directory, $AIRFLOW_HOME/datastores-work/<dag>/<task>/<run>/<try>/)")
    say(f"  (run {number} took {time.monotonic() - started:.0f} s; full Airflow log: {os.path.relpath(log_path, REPO)})")
    if result.returncode != 0 or "state=failed" in result.stdout + result.stderr:
        sys.exit(f"The pipeline failed; see {log_path}")


def _records(output: str) -> list[str]:
    """The log's records, continuation lines joined to the line that starts their record."""
    records: list[str] = []
    for line in output.splitlines():
        if records and not _RECORD_START.match(line) and not line.startswith(("[", "  ")):
            records[-1] += "\n" + line
        else:
            records.append(line)
    return records


def _short(message: str) -> str:
    """Paths relative to the task's work directory or the demo home, so lines fit a terminal."""
    message = re.sub(r"/\S*/datastores-work/[^/\s]+/[^/\s]+/[^/\s]+/try-\d+/", "", message)
    return message.replace(HOME + "/", "$AIRFLOW_HOME/")


def main() -> None:
    sys.path.insert(0, os.path.join(REPO, "dags"))
    from example_data import add_reading, make_example_data

    fresh_home()
    data = make_example_data(ENV["DATASTORES_EXAMPLE_DATA"])
    say(f"Example data: {os.path.relpath(data, REPO)}/raw/*.csv and calibration.json")
    say("Store: the default local store, $AIRFLOW_HOME/datastores (nothing configured)")
    say()
    say(f"== Run 1 of {DAG_ID}: stage and hash the inputs, prepare, train, commit versions")
    run_pipeline(1)
    say()
    changed = add_reading(data, station="station-b")
    say(f"== The data changed: one reading was appended to {os.path.relpath(changed, REPO)}")
    say()
    say("== Run 2: the prepare step warns about exactly that input; new versions are committed, the old ones stay")
    run_pipeline(2)
    say()
    say("== Versions in the store (airflow-datastores versions):")
    result = run([os.path.join(BIN, "airflow-datastores"), "versions"])
    say(result.stdout.rstrip() or result.stderr)
    say()
    say(closing_text(HOME))


#: Where a version's files and manifest are below the store's root (what versions/commit.py writes).
FILES_LAYOUT = "<dag>/<task>/<version>/try-<n>-<id>/"
MANIFESTS_LAYOUT = "_manifests/<dag>/<task>/<version>.json"


def closing_text(home: str) -> str:
    """The demo's last words: where the versions of the default store under ``home`` are, and what to try."""
    store = os.path.join(os.path.relpath(home, REPO), "datastores")
    return (f"The files of each version are under {store}/{FILES_LAYOUT} (one directory per task attempt),\n"
            f"and a version exists once its manifest is written, {store}/{MANIFESTS_LAYOUT}. Try:\n"
            f"  AIRFLOW_HOME={os.path.relpath(home, REPO)} .venv/bin/airflow-datastores show {DAG_ID} train latest")


if __name__ == "__main__":
    main()

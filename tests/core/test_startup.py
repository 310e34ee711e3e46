"""What a process pays before its first byte: the CLI on a local store reads no Airflow
configuration (importing Airflow costs about 2 s), and a request that succeeds reads no retry options."""

from __future__ import annotations

import json
import subprocess
import sys

from airflow_datastores.versions import Producer, snapshot


def test_the_cli_on_a_local_store_imports_no_airflow(tmp_path):
    store = tmp_path / "store"
    outputs = tmp_path / "out"
    outputs.mkdir()
    (outputs / "a.txt").write_text("a")
    from airflow_datastores.stores.registry import open_store

    snapshot(str(outputs), store=open_store(f"file://{store}"), producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    script = (
        "import json, sys\n"
        "from airflow_datastores.cli import main\n"
        f"code = main(['versions', '--store', 'file://{store}', '--json'])\n"
        "print(json.dumps({'code': code, 'airflow': sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')}),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [v["version_id"] for v in listed] == ["r1"]
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "airflow": []}

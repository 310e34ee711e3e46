"""Scale-out: the pipeline under a real scheduler with the CeleryExecutor and two workers.

Step 1 is pinned to queue a (worker A), step 2 to queue b (worker B); the store is the S3 test server.
"""

from __future__ import annotations

import json
import os
import textwrap
import time

import boto3
import pytest

from tests.servers.postgres import PostgresServer, RedisServer

from .cluster import AirflowCluster

DAG_ID = "datastores_celery_pipeline"

DAG = """
# A DAG for the scale-out test
import pendulum
from airflow.sdk import dag, task

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def pipeline():
    @task.datastore(inputs={{"raw": "{raw}/*.csv"}}, queue="a")
    def prepare(raw, outputs_dir):
        total = sum(len(p.read_text().splitlines()) - 1 for p in sorted(raw.glob("*.csv")))
        (outputs_dir / "rows.txt").write_text(str(total))
        (outputs_dir / "copy.csv").write_text((raw / "a.csv").read_text())

    @task.datastore(queue="b")
    def train(data, outputs_dir):
        (outputs_dir / "model.txt").write_text("rows=" + (data / "rows.txt").read_text())

    train(data=prepare())

the_dag = pipeline()
"""


@pytest.fixture
def cluster(s3_server, s3_root, tmp_path):
    with PostgresServer() as postgres, RedisServer() as redis:
        bucket = s3_root[len("s3://"):]
        deployment = AirflowCluster(
            directory=str(tmp_path / "airflow"), database_url=postgres.url, broker_url=redis.url,
            extra_env={"AIRFLOW_CONN_AWS_DEFAULT": os.environ["AIRFLOW_CONN_TEST_S3"],
                       "AIRFLOW__DATASTORES__DEFAULT_STORE": f"s3://{bucket}/versions"})
        with open(os.path.join(deployment.dags, "celery_pipeline.py"), "w") as handle:
            handle.write(textwrap.dedent(DAG.format(dag_id=DAG_ID, raw=f"s3://{bucket}/raw")))
        try:
            deployment.up()
            yield deployment, bucket
        finally:
            deployment.down()


def _run(cluster: AirflowCluster, run_id: str) -> dict[str, tuple]:
    cluster.run("dags", "trigger", DAG_ID, "--run-id", run_id)
    cluster.wait(lambda: cluster.query("select state from dag_run where run_id=%s", run_id)[0][0]
                 in ("success", "failed"), f"run {run_id} to finish")
    rows = cluster.query("select task_id, state, queue, hostname from task_instance where run_id=%s", run_id)
    return {task_id: (state, queue, host) for task_id, state, queue, host in rows}


def _xcom(cluster: AirflowCluster, run_id: str, task_id: str, key: str):
    (value,) = cluster.query("select value from xcom where run_id=%s and task_id=%s and key=%s",
                             run_id, task_id, key)[0]
    return value if not isinstance(value, str) else json.loads(value)


@pytest.mark.slow
def test_pipeline_on_two_celery_workers(cluster, s3_server):
    deployment, bucket = cluster
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.put_object(Bucket=bucket, Key="raw/a.csv", Body=b"x\n1\n2\n")
    s3.put_object(Bucket=bucket, Key="raw/b.csv", Body=b"x\n3\n")
    started = time.monotonic()
    deployment.wait(lambda: deployment.query("select count(*) from dag where dag_id=%s", DAG_ID)[0][0] == 1,
                    "the dag-processor to parse the DAG")
    deployment.run("dags", "unpause", DAG_ID)

    first = _run(deployment, "run-1")
    assert first == {"prepare": ("success", "a", first["prepare"][2]), "train": ("success", "b", first["train"][2])}, \
        deployment.diagnostics()
    # Each step ran on its own worker: its task log is in that worker's log folder only.
    for task, queue in (("prepare", "a"), ("train", "b")):
        other = "b" if queue == "a" else "a"
        assert any(f"task_id={task}" in root for root, _, _ in os.walk(os.path.join(deployment.home, f"logs-{queue}")))
        assert not any(f"task_id={task}" in root for root, _, _ in os.walk(os.path.join(deployment.home, f"logs-{other}")))

    committed = _xcom(deployment, "run-1", "prepare", "datastore_outputs")
    staged = _xcom(deployment, "run-1", "train", "datastore_inputs")
    assert sorted(r["sha256"] for r in staged) == sorted(f["sha256"] for f in committed["files"])
    assert all(committed["version_id"] in r["url"] for r in staged)

    s3.put_object(Bucket=bucket, Key="raw/b.csv", Body=b"x\n3\n4\n")  # the data changed
    second = _run(deployment, "run-2")
    assert {t: s[0] for t, s in second.items()} == {"prepare": "success", "train": "success"}, deployment.diagnostics()
    records = {r["url"].rsplit("/", 1)[1]: r for r in _xcom(deployment, "run-2", "prepare", "datastore_inputs")}
    assert (records["b.csv"]["changed"], records["a.csv"]["changed"]) == (True, False)
    assert records["b.csv"]["previous_run_id"] == "run-1"
    logs = "".join(open(deployment.log_path(n), errors="replace").read() for n in ("worker-a", "worker-b"))
    assert "Direct database access" not in logs
    print(f"\nscale-out: two runs on two Celery workers took {time.monotonic() - started:.0f} s")

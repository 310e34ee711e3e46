"""A step reads a dataset from an NFS share (nfs-ganesha on 127.0.0.1, userspace driver) and what it
derives becomes a version."""

from __future__ import annotations

from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import load_version

from ..core.dagfiles import load_dag
from ..core.test_dag_runs import task_state, xcom


def test_step_with_nfs_mount_commits_a_derived_version(airflow_db, nfs_share):
    (nfs_share.dir / "dataset.csv").write_text("id,value\n1,10\n2,32\n")
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator

        with DAG(dag_id="nfs_step", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as the_dag:
            DatastoreStepOperator(
                task_id="derive",
                mounts=[{{"source": "{nfs_share.source}", "destination": "/mnt/datastores-nfs", "type": "nfs",
                          "readonly": True, "options": {{"port": {nfs_share.server.port}}}}}],
                command="awk -F, 'NR > 1 {{ s += $2 }} END {{ print s }}' /mnt/datastores-nfs/dataset.csv"
                        " > $DATASTORE_OUTPUTS/total.txt",
            )
        """, "nfs_step")
    run = dag.test()
    assert task_state(run, "derive") == "success"
    record = xcom(run, "derive", "datastore_outputs")
    store = get_store()
    version = load_version(store, "nfs_step", "derive", record["version_id"])
    assert store.read_bytes(version.files[0].key) == b"42\n"
    with open("/proc/self/mounts") as handle:
        assert "/mnt/datastores-nfs" not in handle.read()


def test_a_yaml_steps_unknown_mount_option_fails_the_step_naming_it(airflow_db, nfs_share, capfd):
    import os

    from ..core.dagfiles import dags_folder

    folder = os.path.join(dags_folder(), "nfs_yaml")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "valohai.yaml"), "w") as handle:
        handle.write(f"""\
- step:
    name: peek
    command: ls /mnt/datastores-nfs
    mounts:
      - source: "{nfs_share.source}"
        destination: /mnt/datastores-nfs
        type: nfs
        driver: userspace
        options: {{port: {nfs_share.server.port}, hot: true}}
""")
    dag = load_dag("""
        from airflow_datastores import load_pipelines
        dags = load_pipelines("nfs_yaml/valohai.yaml", namespace=globals())
    """, "peek")
    run = dag.test()
    assert task_state(run, "peek") == "failed"
    out = capfd.readouterr()
    assert "the userspace driver does not know the option(s) 'hot'" in out.out + out.err

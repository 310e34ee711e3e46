"""A real Airflow deployment on 127.0.0.1 for the scale-out test: PostgreSQL, Redis, api-server,
scheduler, dag-processor and two Celery workers on different queues, each stopped by pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg2

from tests.servers.base import free_port, http_ok, stop_process_groups

AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")
#: How long a wait may take at most. Waits end as soon as their condition holds; the bound only has
#: to be generous enough for a loaded 2-core machine (an api-server was seen to take over 120 s there).
WAIT_SECONDS = 600.0


class AirflowCluster:
    """Airflow with the CeleryExecutor, its home in ``directory``.

    :param directory: Airflow home, logs, DAGs.
    :param database_url: SQLAlchemy URL of PostgreSQL.
    :param broker_url: Redis URL for Celery.
    :param extra_env: more environment (connections, provider config) for every process.
    """

    def __init__(self, *, directory: str, database_url: str, broker_url: str, extra_env: dict[str, str]) -> None:
        self.home = directory
        self.dags = os.path.join(directory, "dags")
        os.makedirs(self.dags, exist_ok=True)
        self.api_port = free_port()
        self.database_url = database_url
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
            **extra_env,
            "AIRFLOW_HOME": directory,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": self.dags,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": "scale-out-test-secret",
            "AIRFLOW__API__SECRET_KEY": "scale-out-test-key",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def log_path(self, name: str) -> str:
        return os.path.join(self.home, f"{name}.log")

    def run(self, *args: str) -> str:
        result = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True,
                                timeout=WAIT_SECONDS)
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result.stdout

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = open(self.log_path(name), "wb")
        self.processes[name] = subprocess.Popen([AIRFLOW, *args], env={**self.env, **(env or {})}, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def up(self) -> None:
        self.run("db", "migrate")
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1")
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")
        for queue in ("a", "b"):
            self.start(f"worker-{queue}", "celery", "worker", "--queues", queue, "--concurrency", "1",
                       "--celery-hostname", f"worker-{queue}@%h",
                       env={"AIRFLOW__LOGGING__BASE_LOG_FOLDER": os.path.join(self.home, f"logs-{queue}")})
        self.wait(lambda: http_ok(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health",
                                  expect=lambda status, _b: status == 200), "the api-server to answer")

    def wait(self, condition, what: str, *, timeout: float = WAIT_SECONDS) -> None:
        """Poll ``condition`` each second until it holds; fail when a process exited or ``timeout``
        seconds passed, with the end of every log.

        :param condition: callable returning true once the awaited state is reached.
        :param what: what is awaited, for the failure message.
        :param timeout: the bound in seconds; keep the generous default (readiness ends the wait).
        """
        deadline = time.monotonic() + timeout
        while not condition():
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{dead} exited" if dead else f"not done after {timeout:.0f} s"
                raise AssertionError(f"waiting for {what}: {why}"
                                     + "\n" + self.diagnostics())
            time.sleep(1)

    def query(self, sql: str, *params) -> list[tuple]:
        dsn = self.database_url.replace("postgresql+psycopg2://", "postgresql://")
        with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def diagnostics(self, lines: int = 25) -> str:
        out = []
        for name in self.processes:
            try:
                with open(self.log_path(name), errors="replace") as handle:
                    out.append(f"--- {name}.log\n" + "".join(handle.readlines()[-lines:]))
            except OSError:
                continue
        return "\n".join(out)

    def down(self) -> None:
        stop_process_groups(self.processes.values(), grace=20)

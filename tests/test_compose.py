"""Static checks of docker-compose.yaml, docker/Dockerfile and the Helm values in docs/kubernetes.md.

There is no Docker engine in the test environment, so nothing here starts a container: each test reads
the files and fails on a mistake that would otherwise only show at ``docker compose up`` or later
(a connection pointing at a host that is not a service, an unpinned image, a port used twice, ...).
"""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from airflow_datastores.stores.registry import split_url

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
FUSE_OVERRIDE = ROOT / "docker" / "compose.fuse.yaml"
AIRFLOW_DOCKERFILE = ROOT / "docker" / "Dockerfile"
KUBERNETES_DOC = ROOT / "docs" / "kubernetes.md"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
#: Airflow components that must run, by the command their service starts
AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer", "celery worker"}
#: URL schemes of store URLs: their "host" is a bucket or container, not a compose service
STORE_SCHEMES = {"s3", "az", "gs", "swift", "file", "datastore"}
#: which connection type each store scheme needs
CONN_TYPES = {"s3": "aws", "az": "wasb", "gs": "google_cloud_platform", "swift": "swift"}


# Loading and small helpers


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<default>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(text: str) -> str:
    """What compose makes of ``text`` with no variable set: ``${X:-d}`` -> d, ``$$`` -> ``$``."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("op") in (":-", "-"):
            return match.group("default")
        return ""

    return _INTERPOLATION.sub(replace, text)


def strings(node, path=()):
    """Every string in a parsed YAML tree, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, path + (str(key),))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, path + (str(i),))
    elif isinstance(node, str):
        yield path, node


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def depends_on(service: dict) -> dict[str, str]:
    """Dependency -> condition, for both the list and the mapping form."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def container_ports(service: dict) -> set[int]:
    """Ports a service says it listens on (``ports`` container side and ``expose``)."""
    found = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            found.add(int(entry["target"]))
        else:
            found.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    for entry in service.get("expose") or []:
        found.add(int(str(entry).split("/")[0]))
    return found


def published_ports(service: dict) -> list[tuple[str, int, str]]:
    """(host ip, host port, protocol) of every published port."""
    published = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is None:
                continue
            published.append((entry.get("host_ip", ""), int(entry["published"]), entry.get("protocol", "tcp")))
            continue
        spec, _, protocol = str(entry).partition("/")
        parts = spec.split(":")
        if len(parts) == 1:
            continue  # container port only: Docker picks a free host port
        ip = parts[0] if len(parts) == 3 else ""
        published.append((ip, int(parts[-2]), protocol or "tcp"))
    return published


def named_volume(entry) -> str | None:
    source = entry.get("source") if isinstance(entry, dict) else str(entry).split(":")[0]
    if isinstance(entry, dict) and entry.get("type", "volume") != "volume":
        return None
    if not source or source.startswith((".", "/", "~", "$")):
        return None
    return source


def mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of every volume of a service."""
    found = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            found.append((entry.get("source", ""), entry["target"]))
        else:
            parts = str(entry).split(":")
            found.append((parts[0], parts[1] if len(parts) > 1 else parts[0]))
    return found


def is_pinned(image: str) -> bool:
    """``name:tag`` with a tag that is neither missing nor ``latest``, or a digest."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # "registry:5000/name" has no tag
        return False
    return bool(tag) and tag != "latest" and "$" not in tag


@cache
def dockerfile_instructions(path: Path) -> tuple[tuple[str, str], ...]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        current += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            current = ""
    return tuple(instructions)


def external_images(path: Path) -> list[str]:
    """Images a Dockerfile pulls: FROM, COPY --from and RUN --mount=from, without its own stages."""
    stages, images = set(), []
    syntax = re.match(r"#\s*syntax\s*=\s*(\S+)", path.read_text())
    if syntax:  # the BuildKit frontend is an image too
        images.append(syntax.group(1))
    for keyword, args in dockerfile_instructions(path):
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            if words[0] not in stages and words[0] != "scratch":
                images.append(words[0])
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2])
        elif keyword in ("COPY", "RUN"):
            for ref in re.findall(r"--(?:mount=(?:\S*,)?)?from=([^\s,]+)", args):
                if ref not in stages and not ref.isdigit():
                    images.append(ref)
    return images


def lock_version(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    versions = {p["version"] for p in lock["package"] if p["name"] == package}
    assert len(versions) == 1, f"uv.lock pins {package} at {sorted(versions)}"
    return versions.pop()


def airflow_base_image() -> tuple[str, str]:
    """(Airflow version, Python version) of the final FROM of docker/Dockerfile."""
    froms = [args for keyword, args in dockerfile_instructions(AIRFLOW_DOCKERFILE) if keyword == "FROM"]
    image = [w for w in froms[-1].split() if not w.startswith("--")][0]
    match = re.fullmatch(r"(?:docker\.io/)?apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", image)
    assert match, f"docker/Dockerfile's final stage must start FROM apache/airflow:X.Y.Z-pythonA.B, not {image}"
    return match.group(1), match.group(2)


def dockerignore_allows(rules: list[str], path: str) -> bool:
    """Whether a .dockerignore keeps ``path`` in the build context (last matching rule wins)."""
    keep = True
    candidates = [path] + ["/".join(path.split("/")[: i + 1]) for i in range(path.count("/"))]
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        pattern = pattern.strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if pattern.startswith("**/"):
            regex = "(?:.*/)?" + re.escape(pattern[3:]).replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, c) for c in candidates):
            keep = negate
    return keep


# docker-compose.yaml


def test_compose_file_parses_and_has_every_component():
    names = set(services())
    assert AIRFLOW_SERVICES <= names, f"missing Airflow services: {AIRFLOW_SERVICES - names}"
    for required in ("postgres", "redis", "s3", "azurite", "fake-gcs", "swift", "nfs"):
        assert required in names, f"no {required!r} service"
    commands = {command_text(services()[name]) for name in AIRFLOW_SERVICES}
    assert AIRFLOW_COMMANDS <= commands, f"no service runs {AIRFLOW_COMMANDS - commands}"


def test_every_variable_reference_is_well_formed():
    # A "$" in a value (say in a password) is read as a variable: compose fails, or silently puts in an
    # empty string for "$ecret". This file writes variables only as ${NAME} and a literal "$" as "$$".
    braced = re.compile(r"\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+][^}]*)?\}")
    for path, text in strings(compose()):
        leftover = braced.sub("", text)
        assert "$" not in leftover, f"{'.'.join(path)}: stray '$' in {text!r}; write '$$' for a literal '$'"


def hosts_named_by(env: dict[str, str]) -> list[tuple[str, str, int | None]]:
    """(variable, host, port) for every server address in Airflow settings and connections."""
    found = []
    for name, value in env.items():
        if name == "AIRFLOW__DATASTORES__STORES":
            urls = [spec["url"] if isinstance(spec, dict) else spec for spec in json.loads(value).values()]
        elif name.startswith("AIRFLOW_CONN_"):
            conn = json.loads(value)
            if conn.get("host") and "://" not in conn["host"]:
                found.append((name, conn["host"], conn.get("port")))
            urls = re.findall(r"[a-z][a-z0-9+.-]*://[^\s;\"',}]+", value)
        elif name.startswith("AIRFLOW__"):
            urls = re.findall(r"[a-z][a-z0-9+.-]*://[^\s;\"',}]+", value)
        else:
            continue
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme in STORE_SCHEMES or not parts.hostname:
                continue
            found.append((name, parts.hostname, parts.port))
    return found


@pytest.mark.parametrize("service_name", sorted(AIRFLOW_SERVICES))
def test_connections_and_settings_point_at_services(service_name):
    env = environment(services()[service_name])
    found = hosts_named_by(env)
    assert any(var.startswith("AIRFLOW_CONN_") for var, _, _ in found), "no connection names a server"
    for var, host, port in found:
        assert host in services(), f"{service_name}: {var} points at {host!r}, which is not a service here"
        listening = container_ports(services()[host])
        if port is not None and listening:
            assert port in listening, (
                f"{service_name}: {var} uses {host}:{port}, but {host} listens on {sorted(listening)} "
                "(inside the compose network use the container port, not the published one)"
            )


def test_execution_api_url_points_at_the_api_server():
    env = environment(services()["airflow-worker"])
    host = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).hostname
    assert command_text(services()[host]) == "api-server", f"{host} does not run the API server"


def test_connections_are_json_with_the_type_their_stores_need():
    env = environment(services()["airflow-worker"])
    connections = {}
    for name, value in env.items():
        if name.startswith("AIRFLOW_CONN_"):
            conn = json.loads(value)
            assert conn.get("conn_type"), f"{name} has no conn_type"
            assert isinstance(conn.get("extra", {}), dict), f"{name}: extra must be a JSON object"
            connections[name.removeprefix("AIRFLOW_CONN_").lower()] = conn
    default_conn = {
        "s3": "aws_default", "az": "wasb_default", "gs": "google_cloud_default", "swift": "swift_default",
    }
    for store, spec in json.loads(env["AIRFLOW__DATASTORES__STORES"]).items():
        scheme = urlsplit(spec["url"]).scheme
        if scheme not in CONN_TYPES:
            continue
        conn_id = spec.get("conn_id") or default_conn[scheme]
        assert conn_id in connections, f"store {store!r} uses connection {conn_id!r}, which is not defined"
        assert connections[conn_id]["conn_type"] == CONN_TYPES[scheme], (
            f"store {store!r} ({scheme}://) needs a {CONN_TYPES[scheme]} connection, "
            f"{conn_id} is {connections[conn_id]['conn_type']}"
        )


def test_datastores_config_is_valid_and_names_every_store_type():
    env = environment(services()["airflow-worker"])
    stores = json.loads(env["AIRFLOW__DATASTORES__STORES"])
    schemes = set()
    for name, spec in stores.items():
        assert set(spec) <= {"url", "conn_id"}, f"store {name!r} has unknown keys"
        split_url(spec["url"])  # raises on a URL the provider would refuse
        schemes.add(urlsplit(spec["url"]).scheme)
    wanted = {"s3", "az", "gs", "swift", "file"}
    assert wanted <= schemes, f"no store for {wanted - schemes}"
    default = env["AIRFLOW__DATASTORES__DEFAULT_STORE"]
    assert default in stores or "://" in default, f"default store {default!r} is neither a store name nor a URL"
    if "://" in default:
        split_url(default)


def test_local_store_and_cache_are_on_shared_named_volumes():
    for service_name in AIRFLOW_SERVICES:
        service = services()[service_name]
        env = environment(service)
        volumes = [(src, dst) for src, dst in mounts(service) if named_volume(src)]

        def volume_of(path: str, volumes=volumes) -> str | None:
            hits = [dst for _, dst in volumes if path == dst or path.startswith(dst.rstrip("/") + "/")]
            return max(hits, key=len) if hits else None

        for name, spec in json.loads(env["AIRFLOW__DATASTORES__STORES"]).items():
            if spec["url"].startswith("file://"):
                path = urlsplit(spec["url"]).path
                assert volume_of(path), f"{service_name}: local store {name!r} ({path}) is not on a volume"
        cache_volume = volume_of(env["AIRFLOW__DATASTORES__CACHE_DIR"])
        assert cache_volume, f"{service_name}: cache_dir is not on a named volume"
        # staged inputs are hard links into the cache: both directories on one file system
        assert volume_of(env["AIRFLOW__DATASTORES__WORK_DIR"]) == cache_volume, (
            f"{service_name}: work_dir and cache_dir are on different volumes"
        )


def test_airflow_services_share_image_build_and_settings():
    airflow = {name: services()[name] for name in AIRFLOW_SERVICES}
    builds = {json.dumps(s.get("build"), sort_keys=True) for s in airflow.values()}
    images = {s.get("image") for s in airflow.values()}
    assert len(builds) == 1 and len(images) == 1, f"Airflow services differ in build {builds} or image {images}"
    build = next(iter(airflow.values()))["build"]
    assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).resolve() == AIRFLOW_DOCKERFILE
    # nothing else builds from the Airflow Dockerfile by accident
    for name, service in services().items():
        if name not in AIRFLOW_SERVICES and isinstance(service.get("build"), dict):
            assert service["build"] != build, f"{name} is built from the Airflow image but is not listed"

    def airflow_settings(service):
        return {k: v for k, v in environment(service).items() if k.startswith("AIRFLOW")}

    reference = airflow_settings(airflow["airflow-scheduler"])
    assert reference.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor"
    for name, service in airflow.items():
        assert airflow_settings(service) == reference, f"{name}: Airflow settings differ from the scheduler's"
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CELERY__BROKER_URL"):
        assert reference.get(key), f"{key} must be set once for all Airflow services"


def test_dags_folder_is_mounted_in_every_airflow_service():
    for name in AIRFLOW_SERVICES:
        targets = {dst: src for src, dst in mounts(services()[name])}
        assert targets.get("/opt/airflow/dags") == "./dags", f"{name}: ./dags is not at /opt/airflow/dags"


def test_every_image_is_pinned_or_built_from_a_pinned_dockerfile():
    for name, service in services().items():
        build = service.get("build")
        if build:
            build = {"context": build} if isinstance(build, str) else build
            dockerfile = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile.relative_to(ROOT)} does not exist"
            pulled = external_images(dockerfile)
            assert pulled, f"{name}: {dockerfile.relative_to(ROOT)} has no FROM"
            for image in pulled:
                assert is_pinned(image), f"{name}: {dockerfile.relative_to(ROOT)} uses unpinned {image!r}"
        else:
            image = service.get("image", "")
            assert is_pinned(image), f"{name}: image {image!r} is not pinned to a version"


def test_helper_dockerfiles_copy_files_that_exist():
    for name, service in services().items():
        build = service.get("build")
        if not isinstance(build, dict) or name in AIRFLOW_SERVICES:
            continue
        context = ROOT / build.get("context", ".")
        for keyword, args in dockerfile_instructions(context / build.get("dockerfile", "Dockerfile")):
            if keyword in ("COPY", "ADD") and "--from" not in args:
                for source in [w for w in args.split() if not w.startswith("--")][:-1]:
                    assert (context / source).exists(), f"{name}: COPY {source} is missing from {context}"


def test_host_ports_do_not_collide():
    seen: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for name, service in services().items():
        for ip, port, protocol in published_ports(service):
            for other_ip, other in seen.get((port, protocol), []):
                assert ip and other_ip and ip != other_ip and "0.0.0.0" not in (ip, other_ip), (
                    f"host port {port}/{protocol} is published by both {other} and {name}"
                )
            seen.setdefault((port, protocol), []).append((ip, name))
    assert (8080, "tcp") in seen, "the Airflow UI is not published on port 8080"
    assert seen[(8080, "tcp")][0][1] == "airflow-apiserver"


def test_dependencies_exist_and_healthy_ones_have_healthchecks():
    one_shot = set()
    for name, service in services().items():
        for dep, condition in depends_on(service).items():
            assert dep in services(), f"{name} depends on {dep!r}, which is not a service"
            assert dep != name, f"{name} depends on itself"
            assert condition in ("service_started", "service_healthy", "service_completed_successfully")
            if condition == "service_healthy":
                check = services()[dep].get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), (
                    f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
                )
            if condition == "service_completed_successfully":
                one_shot.add(dep)
                assert services()[dep].get("restart", "no") in ("no", "on-failure"), (
                    f"{name} waits for {dep} to complete, but {dep} restarts forever"
                )
    # every long-running service reports its health
    for name, service in services().items():
        if name not in one_shot:
            test = (service.get("healthcheck") or {}).get("test")
            assert test, f"{name} has no healthcheck"
            assert isinstance(test, str) or test[0] in ("CMD", "CMD-SHELL"), f"{name}: bad healthcheck {test!r}"


def test_dependencies_have_no_cycle():
    graph = {name: set(depends_on(service)) for name, service in services().items()}
    done: set[str] = set()

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert node not in trail, f"dependency cycle: {' -> '.join(trail + (node,))}"
        if node in done:
            return
        for dep in graph.get(node, ()):
            visit(dep, trail + (node,))
        done.add(node)

    for name in graph:
        visit(name, ())


def test_the_worker_waits_for_every_store_server():
    deps = depends_on(services()["airflow-worker"])
    init_deps = depends_on(services()["airflow-init"])
    for server in ("s3", "azurite", "fake-gcs", "swift", "nfs"):
        assert deps.get(server) == "service_healthy", f"airflow-worker does not wait for {server}"
        assert init_deps.get(server) == "service_healthy", f"airflow-init (makes buckets) does not wait for {server}"


def test_named_volumes_are_declared():
    declared = set(compose().get("volumes") or {})
    used = set()
    for name, service in services().items():
        for entry in service.get("volumes") or []:
            volume = named_volume(entry)
            if volume:
                assert volume in declared, f"{name} uses volume {volume!r}, which is not declared"
                used.add(volume)
    assert declared <= used, f"declared but unused volumes: {declared - used}"


def test_fuse_override_extends_existing_services():
    override = yaml.safe_load(FUSE_OVERRIDE.read_text())
    for name, service in override["services"].items():
        assert name in services(), f"docker/compose.fuse.yaml extends {name!r}, not a service of the main file"
        assert any("/dev/fuse" in str(d) for d in service.get("devices", [])), f"{name}: no /dev/fuse"


def test_compose_doc_names_the_images_in_use():
    doc = (ROOT / "docs" / "docker-compose.md").read_text()
    for name, service in services().items():
        if not service.get("build"):
            image = service["image"]
            assert f"`{image}`" in doc, f"docs/docker-compose.md does not name {name}'s image {image}"
    airflow_version, python_version = airflow_base_image()
    assert f"apache/airflow:{airflow_version}-python{python_version}" in doc


# docker/Dockerfile


def test_airflow_image_matches_the_locked_airflow_and_python():
    airflow_version, python_version = airflow_base_image()
    assert airflow_version == lock_version("apache-airflow"), (
        f"docker/Dockerfile starts from Airflow {airflow_version} but uv.lock pins "
        f"{lock_version('apache-airflow')}"
    )
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(f"{python_version}.0"), (
        f"the image's Python {python_version} does not satisfy requires-python {requires}"
    )


def test_airflow_dockerfile_installs_the_provider_from_the_lock():
    instructions = dockerfile_instructions(AIRFLOW_DOCKERFILE)
    copied = " ".join(args for keyword, args in instructions if keyword == "COPY")
    run = " ".join(args for keyword, args in instructions if keyword == "RUN")
    for needed in ("uv.lock", "pyproject.toml", "README.md", "provider/"):
        assert needed in copied, f"docker/Dockerfile does not COPY {needed}"
    assert re.search(r"\bexport\b.*--frozen", run), "the lock must be exported with --frozen (no re-resolution)"
    assert "--all-extras" in run and "--no-dev" in run
    assert re.search(r"(--constraint|-c)\s+\S*constraints", run), "the install must use the lock as constraints"
    assert "[all]" in run, "the provider must be installed with all its extras"
    # Airflow core is named at the image's version, so the constraints can never swap it
    assert 'apache-airflow==${AIRFLOW_VERSION}' in run


def test_airflow_build_context_keeps_what_the_dockerfile_copies():
    rules_file = AIRFLOW_DOCKERFILE.with_name(AIRFLOW_DOCKERFILE.name + ".dockerignore")
    rules = [
        line.strip() for line in rules_file.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert not dockerignore_allows(rules, ".venv/bin/python"), "the venv would be sent to the builder"
    assert not dockerignore_allows(rules, ".git/HEAD")
    for keyword, args in dockerfile_instructions(AIRFLOW_DOCKERFILE):
        if keyword != "COPY" or "--from" in args:
            continue
        for source in [w for w in args.split() if not w.startswith("--")][:-1]:
            path = source.rstrip("/")
            assert (ROOT / path).exists(), f"docker/Dockerfile copies {source}, which does not exist"
            probe = path + "/__init__.py" if (ROOT / path).is_dir() else path
            assert dockerignore_allows(rules, probe), f"{source} is excluded by {rules_file.name}"


def test_create_stores_script_knows_every_store_scheme():
    spec_ = importlib.util.spec_from_file_location("create_stores", ROOT / "docker" / "create_stores.py")
    script = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(script)  # module level is stdlib only; the SDKs load when a store is created
    env = environment(services()["airflow-init"])
    assert "create_stores.py" in command_text(services()["airflow-init"])
    for spec in json.loads(env["AIRFLOW__DATASTORES__STORES"]).values():
        scheme = urlsplit(spec["url"]).scheme
        assert scheme == "file" or scheme in script.CREATORS, f"create_stores.py cannot create {scheme}://"
        if scheme in script.CREATORS and not spec.get("conn_id"):
            assert scheme in script.DEFAULT_CONN_IDS


# docs/kubernetes.md


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```ya?ml\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


@cache
def kubernetes_documents() -> list:
    blocks = yaml_blocks(KUBERNETES_DOC.read_text())
    assert blocks, "docs/kubernetes.md has no yaml block"
    return [doc for block in blocks for doc in yaml.safe_load_all(block) if doc is not None]


def helm_values() -> dict:
    values = [doc for doc in kubernetes_documents() if isinstance(doc, dict) and "executor" in doc]
    assert len(values) == 1, "docs/kubernetes.md should have exactly one Helm values block"
    return values[0]


def test_kubernetes_doc_yaml_blocks_parse():
    assert len(kubernetes_documents()) >= 2


def test_helm_values_use_the_provider_image_and_kubernetes_executor():
    values = helm_values()
    assert values["executor"] == "KubernetesExecutor"
    airflow_image = values["images"]["airflow"]
    assert airflow_image["repository"] and is_pinned(f"{airflow_image['repository']}:{airflow_image['tag']}")
    pod_template = values["images"].get("pod_template", {})
    assert (pod_template.get("repository"), pod_template.get("tag")) == (
        airflow_image["repository"], airflow_image["tag"]
    ), "task pods (images.pod_template) must run the same image as images.airflow"
    assert str(values["airflowVersion"]) == lock_version("apache-airflow")
    assert lock_version("apache-airflow") in str(airflow_image["tag"]), "the tag should name Airflow's version"


def test_helm_values_pass_connections_and_config():
    values = helm_values()
    secrets = [doc for doc in kubernetes_documents() if isinstance(doc, dict) and doc.get("kind") == "Secret"]
    assert secrets, "docs/kubernetes.md shows no Secret with the connections"
    for secret in secrets:
        for key, value in secret["stringData"].items():
            assert key.startswith("AIRFLOW_CONN_"), key
            assert json.loads(value).get("conn_type"), f"{key} is not a JSON connection"
    env_from = yaml.safe_load(values["extraEnvFrom"])  # the chart expects a (templated) YAML string
    referenced = {item["secretRef"]["name"] for item in env_from if "secretRef" in item}
    assert referenced & {s["metadata"]["name"] for s in secrets}, "extraEnvFrom does not load the Secret"

    env = {item["name"]: str(item["value"]) for item in values["env"]}
    stores = json.loads(env["AIRFLOW__DATASTORES__STORES"])
    for spec in stores.values():
        split_url(spec["url"])
    default = env["AIRFLOW__DATASTORES__DEFAULT_STORE"]
    assert default in stores or "://" in default

    mounted = {m["mountPath"]: m["name"] for m in values["workers"]["extraVolumeMounts"]}
    volumes = {v["name"] for v in values["workers"]["extraVolumes"]}
    for option in ("AIRFLOW__DATASTORES__CACHE_DIR", "AIRFLOW__DATASTORES__WORK_DIR"):
        path = env[option]
        holders = [p for p in mounted if path.startswith(p.rstrip("/") + "/")]
        assert holders, f"{option}={path} is not on a volume of the task pods"
        assert all(mounted[p] in volumes for p in holders), f"{option}: mounted volume is not defined"


def test_dockerignore_matcher_agrees_with_docker_on_the_rules_used_here():
    # The matcher above stands in for Docker's; check it on the cases this repository relies on.
    rules = ["*", "!provider/", "**/__pycache__", "**/*.pyc"]
    assert dockerignore_allows(rules, "provider/x/__init__.py")
    assert not dockerignore_allows(rules, "provider/x/__pycache__/a.cpython-311.pyc")
    assert not dockerignore_allows(rules, "provider/x/y.pyc")
    assert not dockerignore_allows(rules, "tests/test_x.py")
    assert not dockerignore_allows(rules, "README.md")

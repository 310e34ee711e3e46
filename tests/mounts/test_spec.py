"""Mount specs: every accepted form gives the same Mount; every bad case names its field clearly."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

from airflow_datastores.mounts import Mount, MountError, parse_mounts, validate_mounts
from airflow_datastores.mounts.spec import parse_mount

EFS = "fs-1234aa62.efs.eu-west-1.amazonaws.com:/"

YAML_SPECS = """
mounts:
  - source: fs-1234aa62.efs.eu-west-1.amazonaws.com:/
    destination: /mnt/efs
    readonly: true
    options:
      vers: "4.1"
      hard: true
      timeo: 600
  - source: 10.0.0.2:/mystore
    destination: /mnt/store
    type: nfs
    driver: userspace
    options: vers=4.1,port=2049,noresvport
  - source: /data/raw
    destination: /mnt/raw
    type: bind
    readonly: true
  - "/data/scratch:/mnt/scratch"
  - "10.0.0.2:/mystore/sub:/mnt/sub:ro"
  - "[fd00::2]:/data:/mnt/v6"
"""


def test_yaml_dicts_and_short_forms_load_into_the_same_mounts():
    mounts = parse_mounts(yaml.safe_load(YAML_SPECS)["mounts"])
    assert mounts == [
        Mount(
            EFS, "/mnt/efs", type="nfs", readonly=True, options={"vers": "4.1", "hard": True, "timeo": 600}
        ),
        Mount("10.0.0.2:/mystore", "/mnt/store", driver="userspace", options="vers=4.1,port=2049,noresvport"),
        Mount("/data/raw", "/mnt/raw", type="bind", readonly=True),
        Mount("/data/scratch", "/mnt/scratch", type="bind"),
        Mount("10.0.0.2:/mystore/sub", "/mnt/sub", readonly=True),
        Mount("[fd00::2]:/data", "/mnt/v6"),
    ]
    efs, store, raw, scratch, sub, v6 = mounts
    assert (efs.type, efs.server, efs.export, efs.port) == (
        "nfs",
        "fs-1234aa62.efs.eu-west-1.amazonaws.com",
        "/",
        2049,
    )
    assert efs.options == {"vers": "4.1", "hard": True, "timeo": "600"}
    assert (
        parse_mount(efs.to_dict()) == efs
        and parse_mount(efs.to_dict()).options_string() == "vers=4.1,hard,timeo=600"
    )
    assert efs.options_string("ro") == "vers=4.1,hard,timeo=600,ro"
    assert (store.driver, store.port, store.nfs_version) == ("userspace", 2049, "4.1")
    assert store.options_string() == "vers=4.1,port=2049,noresvport"
    assert (raw.type, raw.source, raw.readonly) == ("bind", "/data/raw", True)
    assert (scratch.type, scratch.readonly) == ("bind", False)
    assert (sub.server, sub.export, sub.readonly) == ("10.0.0.2", "/mystore/sub", True)
    assert (v6.server, v6.export) == ("fd00::2", "/data")


def test_the_same_spec_in_every_form_is_equal_and_round_trips():
    direct = Mount("10.0.0.2:/mystore", "/mnt/store", readonly=True, options={"port": 2049})
    forms = [
        direct,
        {
            "source": "10.0.0.2:/mystore",
            "destination": "/mnt/store",
            "readonly": True,
            "options": {"port": 2049},
        },
        {
            "source": "10.0.0.2:/mystore/",
            "destination": "/mnt/store/",
            "readonly": True,
            "options": ["port=2049"],
        },
        {
            "source": "10.0.0.2://mystore",
            "destination": "/mnt//store",
            "readonly": True,
            "options": "port=2049",
        },
    ]
    assert parse_mounts(forms) == [direct] * 4
    assert parse_mount(direct.to_dict()) == direct
    assert parse_mounts("/data/raw:/mnt/raw:rw") == [Mount("/data/raw", "/mnt/raw")]
    assert parse_mounts(None) == []
    assert hash(direct) == hash(parse_mount(direct.to_dict()))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # destinations
        (
            {"source": "/data", "destination": "mnt/data"},
            "mounts[0].destination: 'mnt/data' is relative; give an absolute path such as /mnt/mnt/data",
        ),
        ({"source": "/data", "destination": "/"}, "mounts[0].destination: '/' is the system directory /"),
        (
            {"source": "/data", "destination": "/proc"},
            "mounts[0].destination: '/proc' is the system directory /proc",
        ),
        (
            {"source": "/data", "destination": "/etc"},
            "mounts[0].destination: '/etc' is the system directory /etc",
        ),
        (
            {"source": "/data", "destination": "/etc/ssl/private"},
            "mounts[0].destination: '/etc/ssl/private' is inside the system directory /etc",
        ),
        ({"source": "/data", "destination": "/usr/lib/data"}, "is inside the system directory /usr"),
        ({"source": "/data", "destination": "/tmp"}, "is the system directory /tmp"),
        (
            {"source": "/data", "destination": "/mnt/../etc"},
            "mounts[0].destination: '/mnt/../etc' contains '..'",
        ),
        ({"source": "/data"}, "mounts[0].destination: missing; a mount needs a source and a destination"),
        # NFS sources
        (
            {"source": "fileserver", "destination": "/mnt/x", "type": "nfs"},
            "mounts[0].source: 'fileserver' has no server; an NFS source is server:/path",
        ),
        (
            {"source": ":/export", "destination": "/mnt/x"},
            "mounts[0].source: server '' in ':/export' is not a host name or address",
        ),
        (
            {"source": "10.0.0.2:mystore", "destination": "/mnt/x"},
            "mounts[0].source: the path 'mystore' in '10.0.0.2:mystore' must be absolute",
        ),
        (
            {"source": "nfs://10.0.0.2/mystore", "destination": "/mnt/x"},
            "mounts[0].source: 'nfs://10.0.0.2/mystore' is a URL; give an NFS source as server:/path",
        ),
        (
            {"source": "bad_host!:/x", "destination": "/mnt/x"},
            "mounts[0].source: server 'bad_host!' in 'bad_host!:/x' is not a host name or address",
        ),
        (
            {"source": "[fd00::zz]:/x", "destination": "/mnt/x"},
            "mounts[0].source: '[fd00::zz]' in '[fd00::zz]:/x' is not an IPv6 address",
        ),
        (
            {"source": "10.0.0.2:/a/../b", "destination": "/mnt/x"},
            "mounts[0].source: the path in '10.0.0.2:/a/../b' contains '..'",
        ),
        (
            {"source": "data/raw", "destination": "/mnt/x", "type": "bind"},
            "mounts[0].source: 'data/raw' is relative; a bind mount's source is an absolute directory",
        ),
        # options
        (
            {"source": "10.0.0.2:/x", "destination": "/mnt/x", "options": {"verz": "4"}},
            "mounts[0].options: 'verz' is not a known nfs mount option (did you mean 'vers'?)",
        ),
        (
            {"source": "/data", "destination": "/mnt/x", "options": "hard"},
            "mounts[0].options: 'hard' is not a known bind mount option",
        ),
        (
            {"source": "10.0.0.2:/x", "destination": "/mnt/x", "options": "ro"},
            "mounts[0].options: 'ro': set readonly: true instead of the 'ro' option",
        ),
        (
            {"source": "10.0.0.2:/x", "destination": "/mnt/x", "options": {"port": "nfs"}},
            "mounts[0].options: port='nfs' is not a whole number",
        ),
        (
            {"source": "10.0.0.2:/x", "destination": "/mnt/x", "options": {"port": 70000}},
            "mounts[0].options: port=70000 is not a TCP port",
        ),
        (
            {"source": "10.0.0.2:/x", "destination": "/mnt/x", "options": {"vers": "5"}},
            "mounts[0].options: vers='5' is not one of 3, 4, 4.0, 4.1, 4.2",
        ),
        (
            {"source": "10.0.0.2:/x", "destination": "/mnt/x", "options": {"hard": "yes"}},
            "mounts[0].options: 'hard' is a flag and takes no value",
        ),
        # keys and fields
        (
            {"source": "/data", "destination": "/mnt/x", "readOnly": True},
            "mounts[0].readOnly: unknown key (did you mean 'readonly'?)",
        ),
        (
            {"source": "/data", "destination": "/mnt/x", "type": "smb"},
            "mounts[0].type: 'smb' is not a mount type; use one of nfs, bind",
        ),
        (
            {"source": "/data", "destination": "/mnt/x", "readonly": "yes"},
            "mounts[0].readonly: 'yes' is not true or false",
        ),
        (
            {"source": "/data", "destination": "/mnt/x", "driver": "kernel"},
            "mounts[0].driver: 'kernel' applies to NFS mounts only",
        ),
        (
            {"source": "10.0.0.2:/x", "destination": "/mnt/x", "driver": "fuse"},
            "mounts[0].driver: 'fuse' is not a driver; use one of auto, kernel, userspace",
        ),
        ("/data/raw", "mounts[0].spec: '/data/raw' is not 'source:destination'"),
        (42, "mounts[0].spec: int is not a mount"),
    ],
)
def test_bad_specs_fail_with_a_message_naming_the_field(spec, message):
    with pytest.raises(MountError) as caught:
        parse_mounts([spec])
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_validation_refuses_destinations_in_the_task_directories(tmp_path):
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    dirs = {"inputs_dir": inputs, "outputs_dir": outputs}
    cases = [
        (
            f"/data:{inputs}/raw",
            f"mounts[0].destination: '{inputs}/raw' is inside the inputs directory ({inputs})",
        ),
        (
            f"/data:{outputs}",
            f"mounts[0].destination: '{outputs}' is inside the outputs directory ({outputs})",
        ),
        (
            f"/data:{tmp_path}",
            f"mounts[0].destination: '{tmp_path}' would hide the inputs directory ({inputs})",
        ),
        (f"/data:{sys.prefix}", "would hide the Python environment that runs the task"),
    ]
    for spec, message in cases:
        with pytest.raises(MountError) as caught:
            validate_mounts([spec], **dirs)
        assert message in str(caught.value)
    assert validate_mounts([f"/data:{tmp_path}/mnt"], **dirs) == [Mount("/data", f"{tmp_path}/mnt")]


def test_validation_refuses_shared_and_nested_destinations_and_symlinks_into_the_system(tmp_path):
    dirs = {"inputs_dir": tmp_path / "in", "outputs_dir": tmp_path / "out"}
    with pytest.raises(
        MountError, match=r"mounts\[1\].destination: '/mnt/a' is also the destination of mounts\[0\]"
    ):
        validate_mounts(["/x:/mnt/a", "10.0.0.2:/y:/mnt/a"], **dirs)
    with pytest.raises(
        MountError, match=r"mounts\[1\].destination: '/mnt/a/b' is inside mounts\[0\].destination '/mnt/a'"
    ):
        validate_mounts(["/x:/mnt/a", "/y:/mnt/a/b"], **dirs)
    link = tmp_path / "looks-harmless"
    os.symlink("/etc", link)
    with pytest.raises(
        MountError,
        match=rf"mounts\[0\].destination: '{link}' leads to /etc, which is the system directory /etc",
    ):
        validate_mounts([f"/x:{link}"], **dirs)

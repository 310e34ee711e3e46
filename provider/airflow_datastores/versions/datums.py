"""Valohai datum URLs: ``datum://<id or name>``, a file a Valohai step names by its id or its alias.

Resolved when a step runs, to a URL staging reads:

1. ``[datastores] datums``: a JSON object of datum id (or name) -> URL, for teams that copied their
   Valohai data into their own bucket (``{"0182b0ad-...": "s3://bucket/data/train.csv"}``);
2. an alias of that name (Valohai's datum aliases name one file; ours may too: ``alias set ... --path``,
   a sidecar's ``valohai.alias``, or ``promote={"name": "file"}``): the global alias, else the one alias
   of a task with that name.

Otherwise the staging fails naming the input and both ways to fix it.
"""

from __future__ import annotations

from airflow_datastores.errors import InvalidSpec, NotFound
from airflow_datastores.stores.base import Store
from airflow_datastores.versions.aliases import list_aliases
from airflow_datastores.versions.references import ALIAS_SCHEME, DATUM_SCHEME, make_reference


def datum_table() -> dict[str, str]:
    """``[datastores] datums``: datum id (or name) -> URL."""
    from airflow_datastores import config

    table = config.conf_json_object("datums", of="datum ids to URLs")
    if not all(isinstance(v, str) for v in table.values()):
        raise InvalidSpec("[datastores] datums must be a JSON object mapping datum ids to URLs")
    return table


def resolve_datum(url: str, *, store: Store, input_name: str) -> str:
    """The URL (a store URL, or a reference to an aliased version) that ``datum://<id or name>`` stands for.

    :param store: the store whose aliases name datums.
    :param input_name: the input being staged (for the message when nothing resolves it).
    :raises NotFound: neither the table nor an alias knows it.
    """
    ident = url[len(DATUM_SCHEME):].strip("/")
    table = datum_table()
    if ident in table:
        return table[ident]
    entries = [e for e in list_aliases(store) if e.alias == ident]
    chosen = [e for e in entries if e.scope == "global"] or entries
    if len(chosen) == 1:
        entry = chosen[0]
        if entry.scope == "global":
            return f"{ALIAS_SCHEME}{entry.alias}"
        return make_reference(dag_id=entry.dag_id, task_id=entry.task_id, version=f"@{entry.alias}")
    if len(chosen) > 1:
        where = ", ".join(f"{e.dag_id}.{e.task_id}" for e in chosen)
        raise NotFound(f"Input {input_name!r}: {url} could be the alias {ident!r} of {where}; name one with "
                       f"datastore://<dag>/<task>/@{ident}, or add {ident!r} to [datastores] datums")
    raise NotFound(
        f"Input {input_name!r}: {url} is a Valohai datum that nothing here resolves. Either add it to "
        f'[datastores] datums (a JSON object {{"{ident}": "s3://bucket/path/file"}}: where you copied the file), '
        f"or point an alias named {ident!r} at the file: airflow-datastores alias set DAG TASK {ident} VERSION "
        "--path FILE --global (or give the input another URL when triggering the run)")

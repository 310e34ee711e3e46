"""The botocore client as the S3 store makes it: our retry policy alone, our checksums, a pooled
connection for each one a task may open, and what botocore does on every request made cheap (times
read without dateutil, the User-Agent built once), since a small object's GET is mostly client CPU."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

from airflow_datastores.errors import MissingExtra

try:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config
    from botocore.parsers import ResponseParserFactory
    from botocore.utils import parse_timestamp
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="s3", extra="s3") from err
try:
    from botocore.context import get_context
except ImportError:  # an older botocore (the floor, 1.36.0) has no request context: its User-Agent is left as is
    get_context = None

#: Connections the client keeps at least (more if ``[datastores] max_connections`` says so).
POOL = 64


def make_client(conn_id: str | None):
    """An S3 client from the Airflow connection ``conn_id`` (``aws_default`` when ``None``)."""
    from airflow_datastores.config import max_connections
    from airflow_datastores.retry import default_policy

    hook = S3Hook(aws_conn_id=conn_id or "aws_default")
    # Our retry policy is the only one: botocore tries each request once. We send the checksums and
    # check the ones S3 keeps in our own hashing pass, so botocore need not do either twice. A
    # connection kept for each one a task may open (botocore keeps 10), so none is made twice; a
    # kept connection costs nothing until it is opened.
    ours = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10,
                  read_timeout=default_policy().read_timeout,
                  max_pool_connections=max(max_connections(), POOL),
                  request_checksum_calculation="when_required",
                  response_checksum_validation="when_required")
    client = hook.get_client_type(config=hook.config.merge(ours))
    _fast_timestamps(client)
    _cached_user_agent(client)
    return client


def _fast_timestamps(client) -> None:
    """Give the client a parser of its own that reads times without dateutil: ISO 8601 (listings) with
    ``datetime.fromisoformat``, HTTP dates (every GET's and HEAD's Last-Modified) with the email parser.

    botocore's default (dateutil) costs about 0.2 ms a time: most of a listing's client time, and a
    tenth of the CPU a small object's GET costs. Other formats go to botocore's parser.
    """
    endpoint = getattr(client, "_endpoint", None)
    if endpoint is not None and hasattr(endpoint, "_response_parser_factory"):
        factory = ResponseParserFactory()
        factory.set_parser_defaults(timestamp_parser=_timestamp)
        endpoint._response_parser_factory = factory


def _cached_user_agent(client) -> None:
    """Build the client's User-Agent once per set of features used, not twice a request.

    botocore builds it from parts that are fixed for a client, and the features a request uses (its
    context), at 0.04 ms a time: with dateutil's times, most of what a small object's GET costs the
    client beyond the raw HTTP request (1.14 ms of CPU a GET here, 0.99 ms without both)."""
    creator = getattr(client, "_user_agent_creator", None)
    build = getattr(creator, "to_string", None)
    if build is None or get_context is None or not hasattr(creator, "_client_features"):
        return
    cache: dict[tuple[frozenset, frozenset], str] = {}

    def to_string() -> str:
        context = get_context()
        key = (frozenset(creator._client_features or ()),
               frozenset(getattr(context, "features", None) or ()) if context is not None else frozenset())
        found = cache.get(key)
        if found is None:
            found = cache[key] = build()
        return found

    creator.to_string = to_string


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        try:
            parsed = parsedate_to_datetime(value)  # Sun, 06 Dec 2026 03:56:03 GMT
        except (TypeError, ValueError):
            return parse_timestamp(value)
    return parsed if parsed.tzinfo is not None else parse_timestamp(value)

"""One way to connect to Temporal, shared by the API, the worker and the CLI.

Dev server, self-hosted cluster with mTLS, or Temporal Cloud with an API key: the settings decide.
Every client carries the encrypting pydantic data converter, so nothing readable leaves the process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.client import Client
from temporalio.converter import PayloadCodec
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from hrflow.codec import EncryptionCodec, data_converter
from hrflow.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from db.person_keys import PersonKeyring


def codec_from(settings: Settings) -> EncryptionCodec:
    """The master keys, and each employee's own (``db.person_keys``) when a database is configured:
    every process decrypts what any other encrypted; ``HRFLOW_PERSON_KEYS`` says only whether new
    payloads of a person's case go under her key."""
    active, keys = settings.require_codec_keys()
    return EncryptionCodec(active, keys, keyring=keyring_from(settings, active, keys), per_person=settings.person_keys)


def keyring_from(settings: Settings, active: str, keys: dict[str, bytes]) -> PersonKeyring | None:
    if not settings.database_url:
        return None
    return keyring_on(settings, keyring_engine(settings))


def keyring_on(settings: Settings, keys_engine: Engine) -> PersonKeyring:
    """The settings' master keys and key cache, reading the person keys through ``keys_engine``."""
    from db.person_keys import PersonKeyring
    from db.session import make_session_factory

    active, keys = settings.require_codec_keys()
    return PersonKeyring(make_session_factory(keys_engine), active, keys, ttl=settings.person_key_cache_seconds)


def keyring_engine(settings: Settings, url: str | None = None) -> Engine:
    """The keyring's own two connections: a key look-up never waits behind a pool whose every
    connection is held by a session that is sealing (which would wait for ever)."""
    from db.session import make_engine

    return make_engine(url or settings.sqlalchemy_url, pool_size=2, limits=settings.database_limits(),
                       name="hrflow-keyring")


def sealing_sessions(settings: Settings, engine: Engine, *, keyring: PersonKeyring | None = None,
                     url: str | None = None, keys_engine: Engine | None = None) -> sessionmaker[Session]:
    """Sessions on ``engine`` that seal and open personal data (``db.sealed_fields``) with the settings'
    keys, whatever ``HRFLOW_PERSON_KEYS`` says (that setting governs workflow payloads only).
    ``keyring``: the process's own, shared with its payload codec (one key cache, one pool);
    otherwise one on ``keys_engine``, or on an engine of its own on ``url``."""
    from db.session import make_session_factory

    if keyring is None:
        keyring = keyring_on(settings, keys_engine or keyring_engine(settings, url))
    return make_session_factory(engine, keyring=keyring, blind_index_key=settings.blind_index_key_bytes())


def _tls(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert or settings.temporal_tls_key:
        if not (settings.temporal_tls_cert and settings.temporal_tls_key):
            raise ConfigurationError(
                "set both HRFLOW_TEMPORAL_TLS_CERT and HRFLOW_TEMPORAL_TLS_KEY for mTLS"
            )
        try:
            return TLSConfig(
                client_cert=settings.temporal_tls_cert.read_bytes(),
                client_private_key=settings.temporal_tls_key.read_bytes(),
                server_root_ca_cert=(
                    settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None
                ),
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot read a Temporal TLS file: {exc}") from None
    if settings.temporal_tls_ca:  # server TLS with a private CA, no client certificate
        try:
            return TLSConfig(server_root_ca_cert=settings.temporal_tls_ca.read_bytes())
        except OSError as exc:
            raise ConfigurationError(f"cannot read HRFLOW_TEMPORAL_TLS_CA: {exc}") from None
    return settings.temporal_api_key is not None  # Temporal Cloud API keys need TLS


async def connect(settings: Settings, *, timeout: timedelta = timedelta(seconds=5),
                  codec: PayloadCodec | None = None) -> Client:
    """Connect, or raise ``ConfigurationError`` naming HRFLOW_TEMPORAL_ADDRESS."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            api_key=api_key,
            tls=_tls(settings),
            data_converter=data_converter(codec or codec_from(settings)),
            connect_timeout=timeout,
        )
    except (RPCError, RuntimeError, OSError) as exc:
        raise ConfigurationError(
            f"cannot reach Temporal at {settings.temporal_address}"
            f" (namespace {settings.temporal_namespace}): {str(exc).splitlines()[0][:160]};"
            " check HRFLOW_TEMPORAL_ADDRESS"
        ) from None


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register every custom search attribute the project uses that the namespace lacks.

    The dev server's ``--search-attribute`` flags are ignored when its database already exists,
    so this runs on every start; it is a no-op when all are present. Returns the names added.
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    from workflows.search_attributes import ALL

    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        present = set(listed.custom_attributes)
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping server cannot list
            raise
        present = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in ALL
        if key.name not in present
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)

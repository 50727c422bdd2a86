"""The composition root: the real adapters, built once per container from validated settings (tests call `reset()`
between moto runs). Services never import this: handlers build their ports here and pass them in.

Every adapter's module is imported inside the function that builds it, so a handler pays at cold start only for
the adapters its routes use (the provider adapters and httpx cost ~160 ms to import; most functions need none).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from postal.config import get_config

if TYPE_CHECKING:
    import httpx

    from postal.ports import LetterPorts, Letters, Stores
    from postal.providers.connections import ProviderFactory
    from postal.store.admin_key import AdminKey
    from postal.store.api_keys import ApiKeys
    from postal.store.documents import DocumentStore
    from postal.store.events import EventPublisher
    from postal.store.idempotency import IdempotencyKeys
    from postal.store.queues import Queue
    from postal.store.secrets import SecretStore


@cache
def client(service: str) -> Any:
    """A boto3 client for `service`, one per container; honours AWS_ENDPOINT_URL (moto locally and in tests)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service, config=Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
    )


@cache
def stores() -> Stores:
    """Every storage port of the table (`postal.ports.Stores`)."""
    from postal.store.repositories import dynamo_stores

    return dynamo_stores(client("dynamodb"), get_config().table_name)


@cache
def api_keys() -> ApiKeys:
    """The authorizer's lookup: no domain models (and so no pydantic) behind it."""
    from postal.store.api_keys import ApiKeys

    return ApiKeys(client("dynamodb"), get_config().table_name)


@cache
def secret_store() -> SecretStore:
    from postal.store.secrets import SecretStore

    return SecretStore(client("secretsmanager"), get_config().secrets_prefix)


@cache
def admin_key() -> AdminKey:
    """The admin key, held per container for a short time (rotating it in Secrets Manager needs no cold start)."""
    from postal.store.admin_key import AdminKey

    return AdminKey(client("secretsmanager"), get_config().admin_key_secret_id)


@cache
def cascade_queue() -> Queue:
    from postal.store.queues import Queue

    return Queue(client("sqs"), get_config().cascade_queue_url)


@cache
def collection_queue() -> Queue:
    from postal.store.queues import Queue

    return Queue(client("sqs"), get_config().collection_queue_url)


@cache
def dispatch_queue() -> Queue:
    from postal.store.queues import Queue

    return Queue(client("sqs"), get_config().dispatch_queue_url)


@cache
def events() -> EventPublisher:
    from postal.store.events import EventPublisher

    return EventPublisher(client("events"), get_config().event_bus_name)


@cache
def documents() -> DocumentStore:
    import boto3
    from botocore.config import Config

    from postal.store.documents import DocumentStore

    settings = get_config()
    # Its own client: presigned URLs must be SigV4 (X-Amz-Expires honoured, every region), which boto3 does not
    # use for S3 query signing by default.
    s3 = boto3.client(
        "s3",
        config=Config(
            signature_version="s3v4",
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=3,
            read_timeout=10,
        ),
    )
    return DocumentStore(s3, settings.documents_bucket, settings.presign_seconds)


def reset() -> None:
    """Forget every cached client, adapter and setting (tests only)."""
    for fn in (
        stores,
        api_keys,
        secret_store,
        admin_key,
        cascade_queue,
        collection_queue,
        dispatch_queue,
        events,
        documents,
        get_config,
        client,
    ):
        fn.cache_clear()


def letter_ports() -> LetterPorts:
    """What sending a letter needs (the letters API, the nightly run)."""
    from postal.ports import LetterPorts

    return LetterPorts(
        stores=stores(), documents=documents(), keys=idempotency_keys(), dispatch=dispatch_queue(), events=events()
    )


def letters() -> Letters:
    return stores().letters


def idempotency_keys() -> IdempotencyKeys:
    """`Idempotency-Key` records for every create (letters, documents)."""
    from postal.store.idempotency import IdempotencyKeys

    return IdempotencyKeys(client("dynamodb"), get_config().idempotency_table_name)


@cache
def provider_http() -> httpx.Client:
    """One httpx client per container for every provider adapter (connection reuse across invocations)."""
    from postal.providers.http import build_client

    return build_client()


def providers() -> ProviderFactory:
    from postal.providers.connections import ProviderFactory

    return ProviderFactory(stores().integrations, secret_store(), get_config(), provider_http())

"""The cluster test's own settings: its brokers and replica set only (never the shared :5672/:27017)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
from minio import Minio
from pydantic import SecretStr

from compressor_kit.settings import Settings
from compressor_kit.testing import unique
from tests.faults.conftest import smtp_port  # noqa: F401  # the mail sink, a fixture

from .servers import RabbitCluster, ReplicaSet


@pytest.fixture
def servers(tmp_path):
    """The cluster and the replica set, started side by side (each takes seconds). The nodes' logs are
    kept in the test's temporary directory."""
    cluster, replica_set = RabbitCluster(), ReplicaSet()
    try:
        with ThreadPoolExecutor(2) as pool:
            for started in [pool.submit(cluster.start), pool.submit(replica_set.start)]:
                started.result()
        yield cluster, replica_set
    finally:
        for node in cluster.nodes:
            shutil.copytree(node.dir / "log", tmp_path / "rabbitmq" / node.node, dirs_exist_ok=True)
        with ThreadPoolExecutor(2) as pool:
            pool.submit(cluster.remove)
            pool.submit(replica_set.stop)


@pytest.fixture
def cluster_settings(servers):
    """Settings naming the cluster's first node and the replica set; the buckets are removed afterwards."""
    cluster, replica_set = servers
    settings = Settings(
        environment="test",
        rabbitmq_url=SecretStr(cluster.nodes[0].url),
        rabbitmq_urls=SecretStr(",".join(node.url for node in cluster.nodes[1:])),
        mongodb_url=SecretStr(replica_set.url),
        mongodb_database_prefix="cluster_",
        s3_bucket_prefix=unique("cluster") + "-",
    )
    yield settings
    store = Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
    )
    for bucket in store.list_buckets():
        if bucket.name.startswith(settings.s3_bucket_prefix):
            for obj in store.list_objects(bucket.name, recursive=True, include_version=True):
                store.remove_object(bucket.name, obj.object_name, version_id=obj.version_id)
            store.remove_bucket(bucket.name)

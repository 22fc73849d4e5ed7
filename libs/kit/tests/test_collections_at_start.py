"""Collections are created at start-up, outside any transaction: a collection first created by the
transaction that first writes it makes every concurrent writer conflict with that uncommitted creation."""

from pymongo import ASCENDING, AsyncMongoClient, IndexModel

from compressor_kit.mongo import ensure_indexes


async def test_every_declared_collection_exists_after_start_up_with_or_without_indexes(test_settings, test_db):
    declared = {
        "counters": [],
        "movements": [IndexModel([("job_id", ASCENDING)], name="by_job")],
    }
    client: AsyncMongoClient = AsyncMongoClient(test_settings.mongodb_url.get_secret_value())
    try:
        db = client[test_settings.mongodb_database]
        await ensure_indexes(db, declared)
        await ensure_indexes(db, declared)  # again, as every replica and every restart does
    finally:
        await client.close()
    assert {"counters", "movements"} <= set(test_db.list_collection_names())
    assert "by_job" in test_db["movements"].index_information()


async def test_a_replica_starting_alongside_another_finds_the_collection_created_meanwhile(
    test_settings, test_db, monkeypatch
):
    test_db.create_collection("counters")  # by the other replica, after this one listed the collections
    client: AsyncMongoClient = AsyncMongoClient(test_settings.mongodb_url.get_secret_value())
    try:
        db = client[test_settings.mongodb_database]

        async def listed_before_the_other_created_it() -> list[str]:
            return []

        monkeypatch.setattr(db, "list_collection_names", listed_before_the_other_created_it)
        await ensure_indexes(db, {"counters": []})
    finally:
        await client.close()
    assert "counters" in test_db.list_collection_names()

from compressor_kit.http import create_app
from compressor_kit.testing import assert_service_starts
from quality_service.app import SERVICE


async def test_the_quality_service_starts_declares_its_queues_and_is_ready(test_settings):
    await assert_service_starts(SERVICE, test_settings)


def test_the_openapi_document_names_every_operation_and_the_refusals(test_settings):
    schema = create_app(SERVICE, test_settings).openapi_schema.to_schema()
    operations = {op["operationId"]: op for path in schema["paths"].values() for op in path.values()}
    assert set(operations) == {
        "ListInspections",
        "GetInspection",
        "RecordInspectionResults",
        "ListInspectionTemplates",
        "GetInspectionTemplate",
        # the kit's, on every service
        "listDeadLetters",
        "replayDeadLetters",
        "listStuckOutboxEvents",
        "retryStuckOutboxEvents",
    }
    assert {"404", "409", "422"} <= set(operations["RecordInspectionResults"]["responses"])
    assert all(op["security"] == [{"BearerToken": []}] for op in operations.values())

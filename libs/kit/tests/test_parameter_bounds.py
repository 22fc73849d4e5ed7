"""Path ids and query values have sane lengths on every route, whatever the route declares."""

from litestar import get
from litestar.params import FromPath, FromQuery
from litestar.testing import AsyncTestClient

from compressor_contracts import StaffRole
from compressor_kit.auth import requires
from compressor_kit.http import MAX_PATH_PARAMETER, MAX_QUERY_VALUE, create_app
from compressor_kit.runtime import ServiceDefinition


@get("/jobs/{job_id:str}", **requires(StaffRole.MANAGER), operation_id="getJob", sync_to_thread=False)
def get_job(job_id: FromPath[str], note: FromQuery[str | None] = None) -> dict[str, str | None]:
    return {"job_id": job_id, "note": note}


async def test_an_overlong_path_id_or_query_value_is_refused_naming_it(test_settings, tokens):
    app = create_app(
        ServiceDefinition(name="intake", default_port=0, description="t", route_handlers=[get_job]), test_settings
    )
    auth = {"Authorization": "Bearer " + tokens.mint("m1", ["manager"])}
    async with AsyncTestClient(app) as client:
        fine = await client.get(
            "/jobs/" + "J" * MAX_PATH_PARAMETER, params={"note": "n" * MAX_QUERY_VALUE}, headers=auth
        )
        assert fine.status_code == 200, fine.text

        long_id = await client.get("/jobs/" + "J" * (MAX_PATH_PARAMETER + 1), headers=auth)
        assert long_id.status_code == 400
        assert long_id.headers["content-type"].startswith("application/problem+json")
        assert long_id.json()["errors"][0]["field"] == "job_id"

        long_query = await client.get("/jobs/J1", params={"note": "n" * (MAX_QUERY_VALUE + 1)}, headers=auth)
        assert long_query.status_code == 400
        assert long_query.json()["errors"][0]["field"] == "note"

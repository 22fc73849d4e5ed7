"""KPIs by MongoDB aggregation on a constructed set of jobs, against hand-computed figures."""

from datetime import UTC, datetime

from litestar.testing import AsyncTestClient

from compressor_contracts import FailureCategory
from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from compressor_kit.testing.events import publish_events
from reporting_service.app import SERVICE

from .reporting_story import Job, settings_for


def day(d: int, month: int = 3) -> datetime:
    return datetime(2026, month, d, 8, 0, tzinfo=UTC)


def constructed_jobs() -> tuple[list[Job], list]:
    # passed at arrive + 2 + 3*(rounds-1) + 1.5 hours after the request
    j1 = Job(
        "KPI-1",
        start=day(2),
        rounds=1,
        arrive_after_h=4,
        model_code="A",
        equipment_id="EQ-1",
        engineer_id="ENG-1",
        region="central",
        csat=5,
        nps=10,
    )  # ttr 7.5 h, tta 4 h, both deadlines kept
    j2 = Job(
        "KPI-2",
        start=day(3),
        rounds=2,
        arrive_after_h=10,
        arrive_by_h=8,
        resolve_by_h=12,
        model_code="A",
        equipment_id="EQ-2",
        engineer_id="ENG-2",
        region="north",
        csat=3,
        nps=6,
    )  # 16.5 h, 10 h, both missed
    j3 = Job(
        "KPI-3",
        start=day(4),
        rounds=1,
        arrive_after_h=2,
        arrive_by_h=None,
        model_code="B",
        equipment_id="EQ-3",
        engineer_id="ENG-1",
        region="central",
        failure_category=FailureCategory.LEAKS,
        csat=4,
        nps=9,
    )  # 5.5 h
    j6 = Job(
        "KPI-6",
        start=day(5),
        rounds=1,
        arrive_after_h=3,
        arrive_by_h=None,
        model_code="A",
        equipment_id="EQ-6",
        engineer_id="ENG-2",
        region="north",
        failure_category=FailureCategory.LUBRICATION,
    )  # 6.5 h, no survey
    outside = Job("KPI-5", start=day(10, month=4), rounds=1, model_code="A", equipment_id="EQ-5")
    repeat = Job("KPI-4", start=day(7), equipment_id="EQ-3", model_code="B")  # EQ-3 again, 2.8 days after KPI-3
    events = [e for job in (j1, j2, j3, j6, outside) for e in job.build()] + repeat.build()[:1]
    return [j1, j2, j3, j6, outside], events


async def test_kpis_on_a_constructed_data_set_equal_the_hand_computed_figures(test_settings, test_db, tokens):
    url = test_settings.rabbitmq_url.get_secret_value()
    jobs, events = constructed_jobs()
    app = create_app(SERVICE, settings_for(test_settings, first_time_fix_window_days=30))
    async with AsyncTestClient(app) as client:
        await publish_events(url, *events)

        async def all_in():
            published = test_db.records.count_documents({"status": "published"}) == len(jobs)
            surveyed = test_db.jobs.count_documents({"csat": {"$exists": True}}) == 3
            requested = test_db.jobs.count_documents({}) == len(jobs) + 1
            return published and surveyed and requested

        await eventually(all_in, timeout=60)
        manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'])}"}
        march = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"
        response = await client.get(f"/kpis?{march}", headers=manager)
        one_day_window = await client.get(f"/kpis?{march}&ftf_window_days=1", headers=manager)
        engineer = await client.get(
            f"/kpis?{march}", headers={"Authorization": f"Bearer {tokens.mint('ENG-1', ['engineer'])}"}
        )
        backwards = await client.get("/kpis?from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z", headers=manager)

    assert response.status_code == 200, response.text
    kpis = response.json()
    assert kpis["overall"] == {
        "jobs": 4,
        "mttr_hours": 9.0,  # (7.5 + 16.5 + 5.5 + 6.5) / 4
        "mean_time_to_arrive_hours": 4.75,  # (4 + 10 + 2 + 3) / 4
        "first_time_fix_rate": 0.5,  # KPI-1, KPI-6; KPI-2 reworked; KPI-3's unit came back within 30 days
        "rework_rate": 0.25,
        "arrive_by_compliance": 0.5,  # KPI-1 kept, KPI-2 missed; the others had no commitment
        "resolve_by_compliance": 0.5,
        "csat_average": 4.0,  # (5 + 3 + 4) / 3
        "nps": 33.3,  # promoters 10 and 9, detractor 6: (2 - 1) / 3
        "survey_responses": 3,
    }
    by_model = {row["model_code"]: row for row in kpis["by_model"]}
    assert by_model["A"]["jobs"] == 3 and by_model["A"]["mttr_hours"] == 10.167  # (7.5 + 16.5 + 6.5) / 3
    assert by_model["B"]["jobs"] == 1 and by_model["B"]["first_time_fix_rate"] == 0.0
    by_engineer = {row["engineer_id"]: row for row in kpis["by_engineer"]}
    assert by_engineer["ENG-1"]["mttr_hours"] == 6.5 and by_engineer["ENG-1"]["first_time_fix_rate"] == 0.5
    assert by_engineer["ENG-2"]["mttr_hours"] == 11.5 and by_engineer["ENG-2"]["rework_rate"] == 0.5
    by_region = {row["region"]: row for row in kpis["by_region"]}
    assert by_region["north"]["csat_average"] == 3.0 and by_region["north"]["nps"] == -100.0
    assert by_region["central"]["nps"] == 100.0
    assert kpis["failure_causes_by_model"] == [
        {
            "model_code": "A",
            "jobs": 3,
            "causes": [
                {"failure_category": "cooling", "count": 2, "share": 0.6667, "cumulative_share": 0.6667},
                {"failure_category": "lubrication", "count": 1, "share": 0.3333, "cumulative_share": 1.0},
            ],
        },
        {
            "model_code": "B",
            "jobs": 1,
            "causes": [{"failure_category": "leaks", "count": 1, "share": 1.0, "cumulative_share": 1.0}],
        },
    ]
    assert one_day_window.json()["overall"]["first_time_fix_rate"] == 0.75  # KPI-3's return is outside one day
    assert engineer.status_code == 403
    assert backwards.status_code == 422

from compressor_kit.settings import Settings


def test_each_service_has_its_own_database_under_a_deployment_prefix():
    settings = Settings(mongodb_database_prefix="e2e_1_")
    assert settings.database_name("intake") == "e2e_1_intake"
    assert settings.database_name("reporting") == "e2e_1_reporting"
    assert Settings().database_name("intake") == "intake"
    assert Settings(mongodb_database="only_this").database_name("intake") == "only_this"

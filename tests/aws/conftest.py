import pytest

from tests.aws.moto_percentiles import teach_moto_percentiles


@pytest.fixture(autouse=True)
def _moto_percentiles(monkeypatch):
    """Every aws test's moto answers percentile statistics (the Delivery health page asks for them)."""
    teach_moto_percentiles(monkeypatch)


@pytest.fixture(scope="session")
def small_local_lake(tmp_path_factory):
    """The local seed of tests/aws/seed_moto.py's parameters, at the tests' clock."""
    from app.demo.seed import seed_lake
    from tests.aws.seed_moto import SMALL_AWS
    from tests.instant import TODAY

    lake = tmp_path_factory.mktemp("small-local-seed") / "lake"
    seed_lake(lake, end=TODAY, **SMALL_AWS)
    return lake

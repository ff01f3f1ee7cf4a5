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


@pytest.fixture(scope="session")
def lake_from_s3(tmp_path_factory):
    """``demo seed --backend aws`` run against the stack on moto, then the lake bucket's
    objects downloaded at their keys: the lake Athena answers from, for every page test on
    aws (once per worker). Its closed days are rolled up locally: moto's Athena logs the
    rollup INSERTs a page sends without running them (tests/aws/moto_athena.py), so these
    files stand for what Athena would write."""
    from app.lake.rollups import refresh_rollups
    from tests.aws.seed_moto import download_lake, seeded_stack

    with seeded_stack("prod") as (resolver, _env):
        lake = download_lake(resolver, tmp_path_factory.mktemp("s3-lake"))
    refresh_rollups(lake)
    return lake

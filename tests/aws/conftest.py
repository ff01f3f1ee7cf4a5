import pytest

from tests.aws.moto_percentiles import teach_moto_percentiles


@pytest.fixture(autouse=True)
def _moto_percentiles(monkeypatch):
    """Every aws test's moto answers percentile statistics (the Delivery health page asks for them)."""
    teach_moto_percentiles(monkeypatch)

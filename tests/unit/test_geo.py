import pytest

from ingest.geo import UNKNOWN, departement_of


@pytest.mark.parametrize(
    ("station_id", "dept"),
    [
        ("75056-0042", "75"),
        ("01004-0008", "01"),
        ("2A004-0001", "2A"),
        ("2b033-0002", "2B"),
        ("97105-0003", "971"),
        ("97411-0001", "974"),
        ("bureau-1", UNKNOWN),
        ("7-1", UNKNOWN),
    ],
)
def test_departement_of(station_id: str, dept: str) -> None:
    assert departement_of(station_id) == dept

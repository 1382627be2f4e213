"""Page addresses: any valid address survives format/parse."""

from hypothesis import given
from hypothesis import strategies as st

from pen.page import PART_MAX, SEGMENT_MAX, PageAddress

addresses = st.builds(
    PageAddress,
    st.integers(0, SEGMENT_MAX),
    st.integers(0, PART_MAX),
    st.integers(0, PART_MAX),
    st.integers(0, PART_MAX),
)


@given(addresses)
def test_format_parse_round_trip(address: PageAddress) -> None:
    assert PageAddress.parse(str(address)) == address

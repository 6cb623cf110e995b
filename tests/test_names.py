"""Tests of Vietnamese name normalisation and matching (geo.names)."""

from __future__ import annotations

import pytest

from geo.names import best_match, fold, normalize_name


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Thị trấn Đắc Mil", "dakmil"),
        ("TT. Dak Mil", "dakmil"),
        ("Tỉnh Khánh Hòa", "khanhhoa"),
        ("Khánh Hoà", "khanhhoa"),  # old-style tone placement
        ("Thành phố Hồ Chí Minh", "hochiminh"),
        ("Huyện Krông Pắc", "krongpac"),
        ("Thị xã Buôn Hồ", "buonho"),
        ("Xã Ea H'Leo", "eahleo"),
        ("Đặc khu Trường Sa", "truongsa"),
        ("Phường 1", "1"),  # numbered wards keep their number
    ],
)
def test_normalize_name(raw, key):
    assert normalize_name(raw) == key


def test_fold_keeps_words():
    assert fold("  Đắk   Lắk ") == "dak lak"


def test_best_match_exact_fuzzy_and_ambiguous():
    provinces = {"56": "Tỉnh Khánh Hòa", "51": "Tỉnh Quảng Ngãi", "66": "Tỉnh Đắk Lắk"}
    assert best_match("khanh hoa", provinces) == ("56", 100.0)
    key, score = best_match("Quang Ngaii", provinces, score_cutoff=85)
    assert key == "51" and 85 <= score < 100
    assert best_match("Hà Nội", provinces) is None
    # two different units with the same normalised name: refuse to guess
    assert best_match("Phường 1", {"a": "Phường 1", "b": "phuong 1"}) is None

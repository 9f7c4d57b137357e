"""Gateways on a date: the dated columns of ``starlink_gateways.csv`` and the filter rule.

The oracle is the CSV itself, read here with :mod:`csv` and :func:`datetime.strptime` (not with
leosim's parser), and the rule of the module docstring written out again below.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from importlib import resources

import pytest

from leosim.errors import InputError
from leosim.ground.gateways import (
    GATEWAY_COLUMNS,
    gateway_date_counts,
    gateway_dates_table,
    starlink_gateways,
)

MARIUPOL = (47.1, 37.6, 1500.0)


def _rows() -> list[dict]:
    path = resources.files("leosim") / "data" / "starlink_gateways.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == GATEWAY_COLUMNS
        return list(reader)


def _parse(text: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    assert text == "", f"{text!r} is neither YYYY-MM-DD nor YYYY-MM nor empty"
    return None


def _oracle(day: date, unknown: str) -> list[str]:
    out = []
    for r in _rows():
        start, end = _parse(r["in_service_from"]), _parse(r["in_service_until"])
        if end is not None and day >= end:
            continue
        if start is None and unknown == "exclude":
            continue
        if start is not None and start > day:
            continue
        out.append(r["name"])
    return out


def test_csv_columns_and_every_date_parse():
    rows = _rows()
    assert len(rows) == 116
    assert GATEWAY_COLUMNS == ("name", "lat_deg", "lon_deg", "country", "source", "note",
                               "in_service_from", "in_service_until", "date_source")
    for r in rows:
        start, end = _parse(r["in_service_from"]), _parse(r["in_service_until"])
        dated = start is not None or end is not None
        # a date always names its source, and a source is only given with a date
        assert bool(r["date_source"].strip()) == dated, r["name"]
        if start is not None and end is not None:
            assert start < end, r["name"]
        assert r["source"].startswith("public Starlink gateway map"), r["name"]  # kept as is


def test_dated_rows_are_the_cited_ones():
    dated = {r["name"]: (r["in_service_from"], r["in_service_until"]) for r in _rows()
             if r["date_source"]}
    assert dated["Gebze"] == ("2023-09", "")
    assert dated["Wola_Krobowska"][0] <= "2022-03"          # ISO text sorts as dates
    assert "shared/reference/starlink.md" in next(
        r["date_source"] for r in _rows() if r["name"] == "Wola_Krobowska")
    assert dated["Gravelines"] == ("", "2022-01-20")
    assert dated["Saint_Senier"] == ("", "2022-01-04")
    # No Lithuanian site in the public map: the Mariupol scenario adds it by hand.
    assert not [r for r in _rows() if r["country"] == "LT"]


@pytest.mark.parametrize("when", [date(2022, 5, 5), datetime(2022, 5, 5, 12, tzinfo=UTC),
                                  "2022-05-05", "2022-05-05T23:59:59Z"])
def test_gebze_dropped_in_spring_2022(when):
    names = [g.name for g in starlink_gateways(MARIUPOL, on_date=when)]
    assert names == ["Wola_Krobowska"]
    assert "Gebze" not in [g.name for g in starlink_gateways(on_date=when)]


def test_gebze_kept_in_2024_and_without_a_date():
    assert [g.name for g in starlink_gateways(MARIUPOL, on_date=date(2024, 1, 1))] == \
        ["Wola_Krobowska", "Gebze"]
    assert [g.name for g in starlink_gateways(MARIUPOL)] == ["Wola_Krobowska", "Gebze"]
    assert len(starlink_gateways()) == 116


def test_aware_datetime_is_read_in_utc():
    # 2023-08-31 23:30 at UTC-2 is 2023-09-01 01:30 UTC: Gebze's not-before date is reached.
    from datetime import timedelta, timezone
    t = datetime(2023, 8, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert "Gebze" in [g.name for g in starlink_gateways(countries={"TR"}, on_date=t)]
    assert starlink_gateways(countries={"TR"}, on_date=date(2023, 8, 31)) == []


@pytest.mark.parametrize("day", [date(2021, 6, 1), date(2022, 1, 3), date(2022, 1, 4),
                                 date(2022, 1, 10), date(2022, 3, 20), date(2022, 5, 5),
                                 date(2023, 8, 31), date(2023, 9, 1), date(2024, 1, 1)])
@pytest.mark.parametrize("unknown", ["in_service", "exclude"])
def test_rule_matches_the_oracle(day, unknown):
    got = [g.name for g in starlink_gateways(on_date=day, unknown_dates=unknown)]
    assert got == _oracle(day, unknown)


def test_unknown_dates_kept_or_excluded():
    day = date(2022, 5, 5)
    kept = {g.name for g in starlink_gateways(on_date=day)}
    strict = {g.name for g in starlink_gateways(on_date=day, unknown_dates="exclude")}
    assert "Nome_AK" in kept and "Nome_AK" not in strict      # no date known
    assert "Wola_Krobowska" in kept and "Wola_Krobowska" in strict
    assert strict == {"Wola_Krobowska", "Elfordstown", "Villenave"}
    # France: Gravelines and Saint-Senier lost their authorisations in January 2022.
    fr = [g.name for g in starlink_gateways(countries={"FR"}, on_date=date(2022, 1, 10))]
    assert fr == ["Villenave", "Gravelines"]  # Saint-Senier ended 2022-01-04
    assert [g.name for g in starlink_gateways(countries={"FR"}, on_date="2022-03-20")] == \
        ["Villenave"]


def test_end_date_is_the_first_day_out_of_service():
    fr = {d: [g.name for g in starlink_gateways(countries={"FR"}, on_date=d)]
          for d in ("2022-01-03", "2022-01-04")}
    assert "Saint_Senier" in fr["2022-01-03"] and "Saint_Senier" not in fr["2022-01-04"]


def test_counts_for_the_summary():
    c = gateway_date_counts("2022-05-05", MARIUPOL)
    assert c == {"on_date": "2022-05-05", "unknown_dates": "in_service", "selected": 2,
                 "kept": 1, "dropped": 1, "unknown": 0, "dropped_names": ["Gebze"],
                 "dropped_reasons": {"Gebze": "not_yet"}}
    whole = gateway_date_counts(date(2022, 3, 20))
    oracle = _oracle(date(2022, 3, 20), "in_service")
    assert whole["selected"] == 116 and whole["kept"] == len(oracle)
    assert whole["kept"] + whole["dropped"] == 116
    assert whole["dropped_reasons"] == {"Gravelines": "ended", "Saint_Senier": "ended",
                                        "Gebze": "not_yet"}
    strict = gateway_date_counts(date(2022, 3, 20), unknown_dates="exclude")
    assert strict["kept"] == len(_oracle(date(2022, 3, 20), "exclude")) == 3
    assert strict["unknown"] == whole["unknown"] == 116 - 6  # six rows carry a date
    assert gateway_date_counts("2022-05-05", countries={"PL"})["kept"] == 1


def test_dates_table():
    t = gateway_dates_table()
    assert list(t.columns) == ["name", "country", "in_service_from", "in_service_until",
                               "date_source"]
    assert len(t) == 116
    t = gateway_dates_table("2022-05-05", unknown_dates="exclude")
    assert int(t["kept"].sum()) == 3
    row = t.set_index("name").loc["Gebze"]
    assert (row["status"], bool(row["kept"])) == ("not_yet", False)


def test_bad_arguments():
    with pytest.raises(InputError, match="unknown_dates"):
        starlink_gateways(on_date="2022-05-05", unknown_dates="maybe")
    with pytest.raises(InputError, match="not an ISO date"):
        starlink_gateways(on_date="May 2022")
    with pytest.raises(InputError, match="not a date"):
        starlink_gateways(on_date=2022)

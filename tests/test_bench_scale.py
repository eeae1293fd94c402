"""The scale bench's arithmetic (规模基准): sizes, and the growth verdict its tables print."""

from __future__ import annotations

import argparse

import pytest

from bench.scale import middle, sizes, table, verdict


def test_sizes_in_order_once_and_at_least_one_county():
    assert sizes("10,1,3,3") == [1, 3, 10]
    for bad in ("", "0,3", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            sizes(bad)


def test_the_verdict_from_the_smallest_size_to_the_largest():
    assert verdict(100, 140, 10) == (1.4, "flat")  # a time
    assert verdict(100, 900, 10) == (9.0, "linear")  # no more than the data grew (10x, 1.5x allowed)
    assert verdict(100, 2000, 10) == (20.0, "**worse**")
    assert verdict(1000, 500, 10, cost=False) == (2.0, "linear")  # a throughput halved: cost doubled
    assert verdict(0, 5, 10)[1] == "n/a"


def test_a_table_line_per_figure_with_its_growth():
    lines = table([1, 3, 10], "ms", [("county month", [100.0, 150.0, 2500.0], True)]).splitlines()
    assert lines[0] == "| ms | 1 county | 3 counties | 10 counties | growth 1→10 | verdict |"
    assert lines[2] == "| county month | 100 | 150 | 2,500 | 25.0x | **worse** |"


def test_a_sizes_figures_are_the_middle_of_its_turns_which_are_kept():
    def turn(baseline, door, counter):
        return {
            "baseline": baseline,
            "door": {"rps": door, "p99": 30.0, "ratio": door / baseline},
            "counter": {"rps": counter, "p99": 90.0, "ratio": counter / baseline},
        }

    turns = [turn(1000, 400, 100), turn(1400, 700, 140), turn(1200, 600, 150)]
    got = middle(turns)
    assert got["baseline"] == 1200
    assert got["door"] == {"rps": 600, "p99": 30.0, "ratio": 0.5}  # each figure's own median
    assert got["counter"]["rps"] == 140 and got["counter"]["ratio"] == 0.1  # 0.1, 0.1, 0.125
    assert got["turns"] == turns  # the section prints every turn's ratio
    assert middle(turns[:2])["door"]["rps"] == 550  # two turns: their mean

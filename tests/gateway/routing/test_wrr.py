"""Smooth weighted round-robin: plain synchronous tests of the sans-I/O class."""

from __future__ import annotations

from collections import Counter

from gateway.routing.wrr import SmoothWeighted


def picks(wrr: SmoothWeighted, peers: list[tuple[str, int]], n: int) -> list[str]:
    out = []
    for _ in range(n):
        name = wrr.pick(peers)
        assert name is not None
        out.append(name)
    return out


def test_nginx_sequence_for_5_1_1() -> None:
    wrr = SmoothWeighted()
    assert picks(wrr, [("a", 5), ("b", 1), ("c", 1)], 7) == ["a", "a", "b", "a", "c", "a", "a"]


def test_every_window_of_sum_weights_is_exact() -> None:
    wrr = SmoothWeighted()
    peers = [("a", 1), ("b", 2), ("c", 7)]
    for _ in range(5):
        assert Counter(picks(wrr, peers, 10)) == {"a": 1, "b": 2, "c": 7}


def test_equal_weights_alternate() -> None:
    wrr = SmoothWeighted()
    assert picks(wrr, [("a", 1), ("b", 1)], 4) == ["a", "b", "a", "b"]


def test_weight_zero_is_never_picked_and_all_zero_gives_none() -> None:
    wrr = SmoothWeighted()
    assert set(picks(wrr, [("a", 0), ("b", 3)], 6)) == {"b"}
    assert wrr.pick([("a", 0), ("b", 0)]) is None
    assert wrr.pick([]) is None


def test_leaving_a_peer_out_redistributes_to_the_others() -> None:
    wrr = SmoothWeighted()
    peers = [("a", 1), ("b", 1), ("c", 2)]
    without_c = [p for p in peers if p[0] != "c"]
    assert Counter(picks(wrr, without_c, 4)) == {"a": 2, "b": 2}
    assert Counter(picks(wrr, peers, 8)) == {"a": 2, "b": 2, "c": 4}

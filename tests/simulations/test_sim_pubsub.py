"""Pubsub in the simulator: subscriptions spread as node-owned state on the real cores, publishes go
straight to the subscribers the publisher knows of (see simulations/pubsub.py)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from micro.cli.sim import sim
from micro.simulations.scenario import Scenario, run_scenario


def _pubsub(**knobs: object) -> dict[str, object]:
    report = run_scenario(Scenario(nodes=120, duration=40.0, seed=3, subscribers=0.25, publish_rate=4.0,
                                   **knobs))  # type: ignore[arg-type]
    return report.to_json()["pubsub"]


def test_subscribers_get_nearly_every_message_in_one_hop_under_loss() -> None:
    pubsub = _pubsub(loss=0.1)
    assert pubsub["published"] > 100
    assert pubsub["delivery_ratio"] >= 0.95
    assert pubsub["hops"] == {"p50": 1, "max": 1}


def test_every_expected_delivery_is_delivered_unknown_or_lost() -> None:
    pubsub = _pubsub(partition=(8.0, 20.0))
    assert pubsub["delivered"] + pubsub["unknown"] + pubsub["lost"] == pubsub["expected"]


def test_a_partition_loses_messages_across_it_and_they_are_counted() -> None:
    whole, cut = _pubsub(), _pubsub(partition=(8.0, 20.0))
    assert cut["lost"] + cut["unknown"] > whole["lost"] + whole["unknown"]
    assert cut["delivery_ratio"] < whole["delivery_ratio"]


def test_the_same_seed_gives_the_same_pubsub_report() -> None:
    assert _pubsub(loss=0.05) == _pubsub(loss=0.05)


def test_micro_sim_reports_pubsub_in_its_json() -> None:
    result = CliRunner().invoke(sim, ["--nodes", "50", "--duration", "20", "--subscribers", "0.2",
                                      "--publish-rate", "2", "--json"])
    assert result.exit_code == 0, result.output
    pubsub = json.loads(result.stdout)["pubsub"]
    assert pubsub["published"] > 0 and pubsub["delivered"] > 0


def test_micro_sim_refuses_a_subscriber_fraction_over_one() -> None:
    result = CliRunner().invoke(sim, ["--nodes", "50", "--subscribers", "1.5", "--publish-rate", "2"])
    assert result.exit_code != 0
    assert "--subscribers" in result.output

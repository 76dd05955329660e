"""The default scenario, its JSON, the plot and the `micro sim` command."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from click.testing import CliRunner
from micro.cli.sim import sim as sim_command
from micro.simulations.engine import Simulation
from micro.simulations.plot import plot_report
from micro.simulations.scenario import Scenario, run_scenario

_SMALL = Scenario(nodes=40, duration=20.0, loss=0.05, seed=3, slow=0.1, partition=(4.0, 8.0))


def test_the_same_seed_gives_byte_identical_json() -> None:
    first = json.dumps(run_scenario(_SMALL).to_json(), sort_keys=True)
    second = json.dumps(run_scenario(_SMALL).to_json(), sort_keys=True)
    assert first == second


def test_another_seed_gives_another_run() -> None:
    first = run_scenario(_SMALL).to_json()
    other = run_scenario(Scenario(**{**_SMALL.__dict__, "seed": 4})).to_json()
    assert first != other


def test_the_default_scenario_reports_every_headline_number() -> None:
    report = run_scenario(Scenario(nodes=50, duration=30.0, seed=2)).to_json()
    assert report["nodes"] == 50 and report["live_nodes"] == 49
    assert report["dissemination_s"]["p99"] is not None
    assert report["dissemination_s"]["missing"] == 0
    assert report["rumour_reach_s"]["incomplete"] == 0
    assert report["detection_s"]["crashes"] == 1 and report["detection_s"]["undetected"] == 0
    assert report["false_deaths"] == 0
    assert report["bytes_per_node_per_s"] > 0
    assert report["converged"] is True


def test_a_finished_run_is_freed_without_the_cycle_collector() -> None:
    gc.collect()  # what earlier tests left
    gc.disable()
    try:
        run_scenario(Scenario(nodes=30, duration=5.0, seed=2))
        assert not [o for o in gc.get_objects() if isinstance(o, Simulation)]
    finally:
        gc.enable()


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "sim.png"
    plot_report(run_scenario(Scenario(nodes=30, duration=20.0, seed=1)), str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_micro_sim_json_prints_one_object() -> None:
    result = CliRunner().invoke(sim_command, ["--nodes", "20", "--duration", "15", "--seed", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("nodes", "duration_s", "seed", "loss", "dissemination_s", "rumour_reach_s", "detection_s",
                "false_deaths", "bytes_per_node_per_s", "converged"):
        assert key in report
    assert report["nodes"] == 20 and report["seed"] == 2


def test_micro_sim_prints_a_table_by_default() -> None:
    result = CliRunner().invoke(sim_command, ["--nodes", "20", "--duration", "15"])
    assert result.exit_code == 0, result.output
    assert "false deaths" in result.stdout
    assert "membership converged" in result.stdout


def test_micro_sim_refuses_bad_arguments_in_one_line() -> None:
    for args in (["--loss", "1.5"], ["--nodes", "1"], ["--partition", "10"], ["--partition", "9:3"],
                 ["--slow", "-0.1"], ["--duration", "0"], ["--partition", "5:100", "--duration", "60"]):
        result = CliRunner().invoke(sim_command, args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output
        assert "Invalid value" in result.output

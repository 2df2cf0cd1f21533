"""A simulator of the Orange Power Connect cloud API, for tests and demos."""

from .app import create_app, run_simulator
from .scenario import Scenario, ScenarioError, default_scenario, load_scenario, parse_scenario
from .state import Fault, Simulator, SimulatorError

__all__ = [
    "Fault",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "SimulatorError",
    "create_app",
    "default_scenario",
    "load_scenario",
    "parse_scenario",
    "run_simulator",
]

"""Mitogen's linear strategy from the venv's `mitogen` package, found by the plain name.

The shared Molecule base (molecule/shared/base.yml) selects it: Mitogen keeps one Python
interpreter per host and runs modules in it, instead of starting Python (and unpacking the
module) on every host for every task. Measured here: half the CPU of a converge.
"""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]

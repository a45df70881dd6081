# Copyright: Levers Labs
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's default strategy: mitogen's linear strategy when mitogen is installed, else linear.

mitogen keeps one Python interpreter per host and runs every module in it, so a task no longer
pays for a new process, an AnsiballZ payload and a fresh boto3 import. ansible.cfg selects this
file (strategy = mitogen_linear, strategy_plugins = extensions/strategy); without mitogen (pip
install -r requirements.txt brings it) the run is the same, with the linear strategy and a warning.
Turn it off for one run with ANSIBLE_STRATEGY=linear.
"""

from __future__ import annotations

# What Ansible loads from a strategy plugin: the class, imported or defined below.
__all__ = ["StrategyModule"]

try:
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
except ImportError:
    from ansible.plugins.strategy.linear import StrategyModule as _Linear
    from ansible.utils.display import Display

    class StrategyModule(_Linear):
        def __init__(self, *args, **kwargs):
            Display().warning("mitogen is not installed: running with the linear strategy")
            super().__init__(*args, **kwargs)

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's default strategy: mitogen's linear strategy when mitogen is installed, else linear.

mitogen keeps one Python interpreter per host and runs every module in it, so a task no longer
pays for a new process, an AnsiballZ payload and a fresh boto3 import. ansible.cfg selects this
file (strategy = mitogen_linear, strategy_plugins = extensions/strategy); without mitogen (pip
install -r requirements.txt brings it) the run is the same, with the linear strategy and a warning.
Turn it off for one run with ANSIBLE_STRATEGY=linear.

One addition to mitogen's strategy: the installed collections are listed once per run. mitogen
lists them before each collection module it runs (to put them on the interpreter's path), in the
task's freshly forked worker, where nothing is cached: about 40 ms a module, 1.1 s of a no-op
site run with the ~90 collections of the `ansible` package. The list is made in the controller
before the first worker forks, and every worker reuses it.
"""

from __future__ import annotations

# What Ansible loads from a strategy plugin: the class, imported or defined below.
__all__ = ["StrategyModule", "collection_dirs"]

_COLLECTION_DIRS: tuple | None = None


def collection_dirs() -> tuple:
    """The installed collections' directories, listed once per process (and inherited by forks)."""
    global _COLLECTION_DIRS
    if _COLLECTION_DIRS is None:
        from ansible.collections.list import list_collection_dirs

        _COLLECTION_DIRS = tuple(list_collection_dirs())
    return _COLLECTION_DIRS


try:
    import ansible_mitogen.planner as _planner
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as _Mitogen
except ImportError:
    from ansible.plugins.strategy.linear import StrategyModule as _Linear
    from ansible.utils.display import Display

    class StrategyModule(_Linear):
        def __init__(self, *args, **kwargs):
            Display().warning("mitogen is not installed: running with the linear strategy")
            super().__init__(*args, **kwargs)

else:

    def _load_collections(invocation):
        # What mitogen 0.3's planner._load_collections does, from the list made once.
        for path in collection_dirs():
            invocation._extra_sys_paths.add(path.decode("utf-8"))

    class StrategyModule(_Mitogen):
        def run(self, iterator, play_context, result=0):
            # Only where mitogen has the function this replaces (requirements.txt pins 0.3.54).
            if hasattr(_planner, "_load_collections"):
                collection_dirs()
                _planner._load_collections = _load_collections
            return super().run(iterator, play_context, result)

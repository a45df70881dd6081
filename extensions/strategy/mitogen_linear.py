# Copyright: Levers Labs
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's default strategy: mitogen's linear strategy when mitogen is installed, else linear.

mitogen keeps one Python interpreter per host and runs every module in it, so a task no longer
pays for a new process, an AnsiballZ payload and a fresh boto3 import. ansible.cfg selects this
file (strategy = mitogen_linear, strategy_plugins = extensions/strategy); without mitogen (pip
install -r requirements.txt brings it) the run is the same, with the linear strategy and a warning.
Turn it off for one run with ANSIBLE_STRATEGY=linear.

Three additions to mitogen's strategy, the first one to the linear fallback too:
- The objects that exist when a play starts (the playbook, inventory and plugins) are frozen out
  of Python's garbage collector (gc.freeze). Every task runs in a worker forked from the
  controller; a collection in the worker would otherwise walk them all, writing to their pages,
  which the fork then copies; the controller's own collections skip them too. About 0.2 s of a
  no-op site run and of a one-role tag rerun. Those objects live as long as the run anyway; all
  the freeze keeps besides them is the garbage left from loading the playbook.
- The installed collections are listed once per run, from the collection paths (0.02 s, where
  Ansible's own listing takes 0.2 s). mitogen lists them before each collection module it runs (to
  put them on the interpreter's path), in the task's freshly forked worker, where nothing is
  cached: about 40 ms a module, 1.1 s of a no-op site run with the ~90 collections of the
  `ansible` package. The list is made in the controller before the first worker forks, and every
  worker reuses it.
- Each host's interpreter is started beside the play's first task (the warm-up). Starting it
  costs about 0.7 s and boto3's import 0.1 s more, paid by the host's first module; a play's
  first tasks are usually controller-side checks (the site's pre-flight takes 0.8 s before its
  first module), so a process forked from the controller starts the interpreter meanwhile, the
  way a worker would (ansible.builtin.ping, with the first task's variables), and imports boto3
  in it. It prints nothing and fails silently: a host it cannot reach is reported by the host's
  first module, as without it. Off with ASSET_MANAGER_WARM_UP=false.
"""

from __future__ import annotations

# What Ansible loads from a strategy plugin: the class, imported or defined below.
__all__ = ["StrategyModule", "collection_dirs"]

import gc
import os

_COLLECTION_DIRS: tuple | None = None


def list_collection_dirs() -> list:
    """What ansible.collections.list.list_collection_dirs() yields, at a tenth of its cost.

    That is each <namespace>/<name> directory of the collection loader's paths, once per
    collection: the copy the loader imports, the first in path order. Ansible finds that copy by
    importing each collection's package (reading its meta/runtime.yml) and brings in
    ansible-galaxy's resolver: about 0.2 s of every run with the ~90 collections of the `ansible`
    package. Here the path order decides, with no import.
    """
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    found: dict = {}
    for root in AnsibleCollectionConfig.collection_paths:
        base = os.path.join(root, "ansible_collections")
        for namespace in _subdirectories(base):
            for name in _subdirectories(os.path.join(base, namespace)):
                found.setdefault((namespace, name), os.path.join(base, namespace, name))
    return [path.encode() for path in found.values()]


def _subdirectories(path: str) -> list:
    try:
        return sorted(entry.name for entry in os.scandir(path) if entry.is_dir())
    except OSError:
        return []


def collection_dirs() -> tuple:
    """The installed collections' directories, listed once per process (and inherited by forks)."""
    global _COLLECTION_DIRS
    if _COLLECTION_DIRS is None:
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

        def run(self, iterator, play_context, result=0):
            gc.freeze()
            return super().run(iterator, play_context, result)

else:

    def _load_collections(invocation):
        # What mitogen 0.3's planner._load_collections does, from the list made once.
        for path in collection_dirs():
            invocation._extra_sys_paths.add(path.decode("utf-8"))

    from ansible.executor.task_executor import TaskExecutor
    from ansible.module_utils.parsing.convert_bool import boolean
    from ansible.playbook.block import Block
    from ansible.playbook.task import Task
    from ansible.plugins import loader as _plugin_loader
    from ansible.utils.multiprocessing import context as _multiprocessing
    from ansible_mitogen.strategy import REDIRECTED_CONNECTION_PLUGINS

    # The hosts whose interpreter this process started or is starting (mitogen keeps it for the
    # whole run, across plays).
    _WARMED: set = set()
    # A warm-up still connecting when the run exits makes mitogen's multiplexer wait 5 s for it
    # and print an error, so a play waits for its warm-ups to end (a connection times out
    # within ansible's timeout, 10 s by default) before it returns.
    _WARM_UP_WAIT = 60

    class _Discard:
        """The results queue of the warm-up's task: nothing it sends reaches the run's output."""

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    def _warm_up(host, task_vars, play_context, loader, variable_manager, play):
        """In a process forked from the controller: start `host`'s interpreter and import boto3."""
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        try:
            task = Task.load(
                {"action": "ansible.builtin.ping"},
                block=Block(play=play),
                variable_manager=variable_manager,
                loader=loader,
            )
            executor = TaskExecutor(
                host,
                task,
                task_vars,
                play_context,
                loader,
                _plugin_loader.get_plugin_loader_namespace(),
                _Discard(),
                variable_manager,
            )
            if executor.run().get("ping") == "pong":
                # The same connection again (ping put it back), to import what every module of
                # the collection imports, in the interpreter that runs them.
                connection = executor._connection
                connection._connect()
                connection.get_chain().call(exec, "import boto3", {})
                connection.close()
        except Exception:  # noqa: BLE001 - the host's first module reports what went wrong
            pass
        finally:
            os._exit(0)

    def _warms(host, task_vars, play_context) -> bool:
        """Whether the play's first task for `host` starts its interpreter beside it."""
        wanted = boolean(os.environ.get("ASSET_MANAGER_WARM_UP", True), strict=False)
        if host.name in _WARMED or not wanted:
            return False
        connection = task_vars.get("ansible_connection") or play_context.connection
        return connection in REDIRECTED_CONNECTION_PLUGINS

    class StrategyModule(_Mitogen):
        _warm_ups: list

        def _queue_task(self, host, task, task_vars, play_context):
            # No more warm-ups in a play than forks: Ansible opens no more connections at once.
            if len(self._warm_ups) < len(self._workers) and _warms(host, task_vars, play_context):
                _WARMED.add(host.name)
                warm_up = _multiprocessing.Process(
                    target=_warm_up,
                    args=(host, task_vars, play_context, self._loader, self._variable_manager),
                    kwargs={"play": task.get_play()},
                    daemon=True,
                )
                warm_up.start()
                self._warm_ups.append(warm_up)
            return super()._queue_task(host, task, task_vars, play_context)

        def run(self, iterator, play_context, result=0):
            # Only where mitogen has the function this replaces (requirements.txt pins 0.3.54).
            if hasattr(_planner, "_load_collections"):
                collection_dirs()
                _planner._load_collections = _load_collections
            self._warm_ups = []
            gc.freeze()
            try:
                return super().run(iterator, play_context, result)
            finally:
                for warm_up in self._warm_ups:
                    warm_up.join(_WARM_UP_WAIT)
                    if warm_up.is_alive():
                        warm_up.kill()

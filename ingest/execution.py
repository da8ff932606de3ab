"""Where a build's loading and chunking run: in this process by default, or on a Ray cluster (``ingest.cluster``).

The build hands each piece of work to an ``Executor`` as a function and the items to apply it to; whichever
executor runs them, the results come back in the order of the items, so the index is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Executor(Protocol):
    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """``[function(item) for item in items]``, wherever it runs; ``function`` must be picklable (a module's
        function, or a ``functools.partial`` of one) for an executor that runs it in other processes."""
        ...


class InProcess:
    """Runs each piece of work here, one after the other.

    Example:
        >>> IN_PROCESS.map(len, ["ab", "c"])
        [2, 1]
    """

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        return [function(item) for item in items]


IN_PROCESS = InProcess()

"""Retry conditions for Prefect tasks: retry only the failures a retry can mend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RetryCondition = Callable[[Any, Any, Any], bool]


def retry_on(*errors: type[BaseException]) -> RetryCondition:
    """A `retry_condition_fn` that retries a task only when it failed with one of `errors`."""

    def condition(task: Any, task_run: Any, state: Any) -> bool:
        try:
            state.result()
        except errors:
            return True
        except BaseException:
            return False
        return False

    return condition

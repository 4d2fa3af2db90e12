"""The ingest's retry policy (assembly.model_retries, tenacity): a window whose worker died or whose model call
failed is submitted again after the models are recovered, a bounded number of times; other errors are not retried."""

from __future__ import annotations

import pytest

from orchestrator.assembly import WindowScope
from orchestrator.executors import WindowLost
from orchestrator.media import MediaError
from orchestrator.model_clients import ModelError
from orchestrator.pipeline import MODEL_ATTEMPTS, Ingestor
from orchestrator.windows import Window


class Services:
    def __init__(self):
        self.recovered = 0

    def recover_models(self):
        self.recovered += 1


class Executor:
    """Raises the queued errors for the first results, then returns the analysis."""

    def __init__(self, errors):
        self.errors = list(errors)
        self.submitted = 0
        self.cancelled = []

    def submit(self, task):
        self.submitted += 1
        return f"handle-{self.submitted}"

    def result(self, handle, timeout):
        if self.errors:
            raise self.errors.pop(0)
        return ("analysis", handle)

    def cancel(self, handle):
        self.cancelled.append(handle)


class Task:
    window = Window(3, 60.0, 80.0)


@pytest.fixture()
def ingestor(tmp_path, monkeypatch):
    monkeypatch.setattr("orchestrator.pipeline.reconnect_models", lambda: None)
    return Ingestor(tmp_path, Services(), rules=[])


def test_a_lost_window_and_a_failed_model_are_submitted_again(ingestor):
    executor = Executor([WindowLost("worker died"), ModelError("model 'asr' failed: connection reset")])
    assert ingestor._await_analysis(executor, Task(), "handle-0") == ("analysis", "handle-2")
    assert executor.submitted == 2 and ingestor.services.recovered == 1  # models recovered only after the model error


def test_retries_stop_after_the_attempts_and_say_so(ingestor):
    executor = Executor([ModelError("model 'asr' failed: down")] * MODEL_ATTEMPTS)
    with pytest.raises(ModelError, match=f"still failing after {MODEL_ATTEMPTS} tries"):
        ingestor._await_analysis(executor, Task(), "handle-0")
    assert executor.submitted == MODEL_ATTEMPTS - 1
    executor = Executor([WindowLost("worker died")] * MODEL_ATTEMPTS)
    with pytest.raises(WindowLost, match="worker died"):
        ingestor._await_analysis(executor, Task(), "handle-0")


def test_a_window_that_times_out_is_not_retried(ingestor):
    executor = Executor([TimeoutError()])
    with pytest.raises(MediaError, match="window 4 .*took longer"):
        ingestor._await_analysis(executor, Task(), "handle-0")
    assert executor.submitted == 0 and executor.cancelled == ["handle-0"]


def test_assembly_is_retried_from_the_saved_state(ingestor, monkeypatch):
    seen = []

    def assemble(graph, scope, state, analysis):
        seen.append(state)
        state["frames"] += 1  # a try that fails half-way must not leak into the next one
        if len(seen) < 3:
            raise ModelError("model 'embedder' failed: reset")
        return "result"

    assembler = ingestor.assembler
    monkeypatch.setattr(assembler, "assemble", assemble)
    monkeypatch.setattr(assembler, "drop_models", lambda: None)
    scope = WindowScope("v", None, Task.window, False, [])
    assert assembler.assemble_with_retries(None, scope, {"frames": 0}, None) == "result"
    assert [s["frames"] for s in seen] == [1, 1, 1] and ingestor.services.recovered == 2
    seen.clear()
    with pytest.raises(ModelError, match="still failing after 2 tries"):
        assembler.assemble_with_retries(None, scope, {"frames": 0}, None, attempts=2)

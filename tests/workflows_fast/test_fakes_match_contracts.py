"""The fakes stand in for the real activities only if they answer to the same names with the same
request and result types: checked against ``domain.contracts``, the ``ActivityRef[In, Out]``
annotation of each name (the real activities register under the same names)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from typing import Any

import pytest

import domain.contracts
from domain.contracts import ActivityRef
from tests.workflows_fast.fakes import MaternityFakes, Recorder, SiChangeFakes


def contract_refs() -> dict[str, tuple[Any, Any]]:
    """Activity name -> (request type, result type), from every ``domain.contracts`` module."""
    found: dict[str, tuple[Any, Any]] = {}
    for info in pkgutil.iter_modules(domain.contracts.__path__):
        module = importlib.import_module(f"domain.contracts.{info.name}")
        for attr, hint in typing.get_type_hints(module).items():
            ref = getattr(module, attr, None)
            if isinstance(ref, ActivityRef) and typing.get_origin(hint) is ActivityRef:
                request, result = typing.get_args(hint)
                found[ref.name] = (request, result)
    return found


@pytest.mark.parametrize("fakes", [SiChangeFakes(), MaternityFakes()], ids=lambda f: type(f).__name__)
def test_each_fake_has_its_contract_name_request_and_result(fakes: Recorder) -> None:
    contracts = contract_refs()
    assert fakes.activities()
    for fake in fakes.activities():
        name = getattr(fake, "__temporal_activity_definition").name
        assert name in contracts, f"{name}: no such activity in domain.contracts"
        request, result = contracts[name]
        hints = typing.get_type_hints(fake)
        [param] = inspect.signature(fake).parameters
        assert hints[param] is request, f"{name} takes {hints[param]}, the contract says {request}"
        returns = hints["return"]
        assert returns == (type(None) if result in (None, type(None)) else result), \
            f"{name} answers {returns}, the contract says {result}"

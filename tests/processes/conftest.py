"""Fixtures every process test uses: a fresh employee, the simulated agency, a running worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from integrations.si_agency import FaultPlan, SimulatedAgency
from tests.processes.support import add_employee, terminate_cases
from worker import build_worker


@pytest.fixture
def emp() -> str:
    """A fresh employee number per test: workflow ids name the employee, and one time-skipping
    server serves the whole module while each test has its own database."""
    return f"E{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def agency(session_factory, faults: FaultPlan) -> SimulatedAgency:
    return SimulatedAgency(session_factory, faults)


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, settings, session_factory, api, emp, agency
                ) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a worker running every workflow, the employee registered; cases ended after."""
    add_employee(session_factory, emp)
    async with build_worker(temporal_env.client, settings, session_factory, agency=agency):
        yield api
        await terminate_cases(temporal_env.client, session_factory)

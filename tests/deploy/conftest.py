"""Fixtures for the deployment tests: the chart renderer (real helm 3, or the offline helm-render
stand-in; see deploy/k8s/render.py) and the chart rendered for each value scenario."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache

import pytest
from deploy_support import CHART, RELEASE, SCENARIOS, render_module


@pytest.fixture(scope="session")
def renderer():
    try:
        return render_module.find_renderer()
    except render_module.RendererNotFound as exc:  # CI always has ../shared/tools
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def render(renderer) -> Callable[..., list[dict]]:
    """render(values=(), set_values={}, release="rtk") -> the rendered objects (cached)."""

    @cache
    def _render(values: tuple[str, ...], set_items: tuple[tuple[str, str], ...], release: str) -> list[dict]:
        text = renderer.template(
            release, CHART, values=[CHART / v for v in values], set_values=dict(set_items)
        )
        return [doc.obj for doc in render_module.split_documents(text)]

    def render_(values: Iterable[str] = (), set_values: dict[str, str] | None = None, release: str = RELEASE):
        return _render(tuple(values), tuple(sorted((set_values or {}).items())), release)

    return render_


@pytest.fixture(scope="session", params=list(SCENARIOS))
def scenario(request, render) -> tuple[str, list[dict]]:
    values, set_values = SCENARIOS[request.param]
    return request.param, render(values, set_values)

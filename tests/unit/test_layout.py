"""The layout rules of the codebase (README, Code map): every module of include/ has its
unit tests in the mirror tests/unit/, and no module of include/ grows past about 250 lines."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "include" / "sparkify"
MAX_LINES = 260


def modules() -> list[Path]:
    return sorted(p for p in LIBRARY.rglob("*.py") if p.name != "__init__.py" or p.stat().st_size > 0)


def mirror(module: Path) -> Path:
    relative = module.relative_to(LIBRARY)
    name = "test_flow.py" if relative.name == "__init__.py" else f"test_{relative.name}"
    return REPO / "tests" / "unit" / relative.parent / name


def test_every_module_of_include_has_its_unit_tests():
    assert len(modules()) >= 15
    assert [m.relative_to(REPO) for m in modules() if not mirror(m).exists()] == []


def test_no_module_of_include_is_longer_than_about_250_lines():
    lengths = {str(m.relative_to(REPO)): len(m.read_text().splitlines()) for m in modules()}
    assert {m: n for m, n in lengths.items() if n > MAX_LINES} == {}

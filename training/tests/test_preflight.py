"""The preflight must catch a third-party import that no requirements line covers."""
from twinlens_train import preflight


def test_repo_imports_are_all_covered():
    assert preflight.uncovered_imports() == []
    assert preflight.unpinned_packages() == []


def test_unknown_import_is_reported(tmp_path, monkeypatch):
    f = tmp_path / "uses_scipy.py"
    f.write_text("import os\nimport scipy.linalg\nfrom torch import nn\n")
    monkeypatch.setattr(preflight, "python_files", lambda: [str(f)])
    problems = preflight.uncovered_imports()
    assert len(problems) == 1 and "'scipy'" in problems[0]


def test_missing_module_names_its_package(monkeypatch):
    monkeypatch.setitem(preflight.MODULES, "twinlens_no_such_module", "no-such-package")
    problems = preflight.missing_modules()
    assert any("no-such-package" in p for p in problems)

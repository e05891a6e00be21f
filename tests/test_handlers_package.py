"""handlers/ is one package: zipped whole, imported under one name everywhere."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from handlers import collect_samples, fc_samples
from tests.kit import FUNCTION, PROJECT_DIR, project_files

HANDLERS_DIR = PROJECT_DIR / "handlers"


def test_every_function_runs_a_module_of_the_handlers_package_zipped_whole(program):
    declared = program()
    package = sorted(f"handlers/{p.name}" for p in HANDLERS_DIR.glob("*.py"))
    functions = declared.of_type(FUNCTION)
    assert functions
    for function in functions:
        assert sorted(function.inputs["code"].assets) == package  # no __pycache__, no tests
        assert re.fullmatch(r"handlers\.[a-z_]+\.handler", function.inputs["handler"])
        module = function.inputs["handler"].rsplit(".", 1)[0]
        assert callable(sys.modules[module].handler)


def test_shared_modules_are_loaded_under_their_package_name_only(program):
    program()  # imports everything the program, its components and the handlers import
    for shared in ("fc_samples", "scoring", "log", "clients", "environment"):
        assert f"handlers.{shared}" in sys.modules
        assert shared not in sys.modules, f"{shared} is also loaded as a top-level module"
    # So the error the collector catches is the one fc_samples raises.
    assert collect_samples.fc_samples.SampleError is fc_samples.SampleError
    summary = collect_samples.handle({"Records": [{"Sns": {"Message": "not,a,sample"}}]},
                                     collect_samples.Settings(delivery_stream_name="unused"))
    assert (summary["forwarded"], summary["rejected"]) == (0, 1)


def test_no_file_puts_a_project_folder_on_sys_path():
    edits = re.compile(r"sys\.path\s*(\[|\.(insert|append|extend)|\+?=)|PYTHONPATH")
    found = [str(path.relative_to(PROJECT_DIR))
             for path in project_files(".py", ".sh", ".ipynb", ".ini", ".toml", "Makefile")
             if path != Path(__file__) and edits.search(path.read_text(encoding="utf-8"))]
    assert found == []

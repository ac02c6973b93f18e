"""A hostile class, graded end to end through `xaiexit grade` in its default mode (sandboxed).

Every attack below sits in one exercise's answer cell; each notebook carries one attack per
exercise, so one class covers the catalogue. Each exercise must get exactly the points its
function's returned values earn: full points where the attack leaves an honest answer in
place (printing 50 MB, forking, detaching a process, writing to the gradebook), none where
the answer is not honest (forged comparisons, replaced checks, the lesson's reference reached
by import, by a name built at run time or by exec'ing the package's source, a crash, a
memory bomb).
The CSV and the feedback agree, the batch goes on, and nothing the attacks start outlives
grading. Lesson 1 and Lesson 4 are graded this way.
"""

import csv
import os
import re
import subprocess
import sys
import textwrap

import nbformat
import pytest

from xaiexit_grading import sandbox
from xaiexit_grading.references import references

from course_helpers import LESSON1, LESSON4, ROOT, cells_by_id

#: a marker only this run's attacks use, to find the processes they start
MARK = str(40000 + os.getpid() % 9999)


def honest_wrapper(exercise: str, source: str, first: str) -> str:
    """The solution's answer, called after ``first`` runs (at the first call)."""
    return (
        f"{source}\n\n_honest_{exercise} = {exercise}\n_done_{exercise} = []\n\n\n"
        f"def {exercise}(*args, **kwargs):\n    if not _done_{exercise}:\n        _done_{exercise}.append(1)\n"
        f"{textwrap.indent(first, '        ')}\n"
        f"    return _honest_{exercise}(*args, **kwargs)\n"
    )


def replacing(exercise: str, body: str, setup: str = "") -> str:
    """An answer whose function runs ``body`` (with ``args``) instead of an honest answer."""
    return f"{setup}\n\ndef {exercise}(*args, **kwargs):\n{textwrap.indent(body, '    ')}\n"


def reference_module(exercise: str) -> str:
    """The module of xaiexit that holds the exercise's reference."""
    return next(iter(references({exercise}))).partition(":")[0]


# Each attack: (name, builder(exercise, solution source) -> answer source, earns its points?)
ATTACKS = [
    # --- forged results: none may earn a point ---
    (
        "always_equal",
        lambda ex, src: replacing(
            ex,
            "return Yes()",
            "class Yes:\n    def __eq__(self, other):\n        return True\n"
            "    shape = property(lambda self: None)\n    def __float__(self):\n        return 0.0",
        ),
        False,
    ),
    (
        "tensor_subclass_that_fakes_comparisons",
        lambda ex, src: replacing(
            ex,
            "return torch.zeros(3).as_subclass(Fake)",
            "import torch\n\nclass Fake(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
            "    @classmethod\n    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
            "        return True",
        ),
        False,
    ),
    (
        "patches_torch_and_builtins",
        lambda ex, src: replacing(
            ex,
            "return torch.zeros(1)",
            "import builtins, torch\ntorch.allclose = lambda *a, **k: True\n"
            "torch.equal = lambda *a, **k: True\n"
            "torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)\n"
            "builtins.abs = lambda v: 0",
        ),
        False,
    ),
    (
        "inspects_the_callers_frames",
        lambda ex, src: replacing(
            ex,
            "frame = sys._getframe(1)\nwhile frame is not None:\n"
            "    for key in ('expected', 'reference', 'right', 'wanted'):\n"
            "        if key in frame.f_locals:\n            return frame.f_locals[key]\n"
            "    frame = frame.f_back\nreturn torch.zeros(1)",
            "import sys, torch",
        ),
        False,
    ),
    # --- escapes: they fail, and cost only their own exercise ---
    (
        "execs_the_solutions_from_disk",
        lambda ex, src: replacing(
            ex,
            "import json, pathlib, xaiexit\nroot = pathlib.Path(xaiexit.__file__).resolve().parents[1]\n"
            "for path in (root / 'solutions').rglob('*.ipynb'):\n"
            "    for cell in json.loads(path.read_text())['cells']:\n"
            "        if cell.get('metadata', {}).get('nbgrader', {}).get('grade_id') == NAME:\n"
            "            scope = dict(globals())\n            exec(''.join(cell['source']), scope)\n"
            "            return scope[NAME](*args, **kwargs)\n"
            "raise RuntimeError('no solutions found')",
            f"NAME = {ex!r}",
        ),
        False,
    ),
    (
        "calls_the_reference_through_a_built_name",
        lambda ex, src: replacing(
            ex,
            "package = importlib.import_module('xaiex' + 'it')\n"
            "for info in pkgutil.walk_packages(package.__path__, 'xaiexit.'):\n"
            "    if '__main__' in info.name:\n        continue\n"
            "    try:\n        module = importlib.import_module(info.name)\n"
            "    except BaseException:\n        continue\n"
            "    if callable(getattr(module, NAME, None)):\n        return getattr(module, NAME)(*args, **kwargs)",
            f"import importlib, pkgutil\nNAME = {ex!r}",
        ),
        False,
    ),
    (
        "execs_the_packages_source",
        lambda ex, src: replacing(
            ex,
            "import pathlib, xaiexit\n"
            "for path in pathlib.Path(xaiexit.__file__).parent.rglob('*.py'):\n"
            "    if f'def {NAME}(' in path.read_text():\n        scope = {'__name__': 'copied'}\n"
            "        exec(path.read_text(), scope)\n        return scope[NAME](*args, **kwargs)",
            f"NAME = {ex!r}",
        ),
        False,
    ),
    (
        "imports_the_reference",
        lambda ex, src: replacing(
            ex, "return reference(*args, **kwargs)", f"from {reference_module(ex)} import {ex} as reference"
        ),
        False,
    ),
    ("exits_python", lambda ex, src: replacing(ex, "sys.exit(0)", "import sys"), False),
    ("a_memory_bomb", lambda ex, src: replacing(ex, "return bytearray(64 * 2**30)"), False),
    ("a_huge_return_value", lambda ex, src: replacing(ex, "return torch.ones(80_000_000)", "import torch"), False),
    ("kills_the_kernel", lambda ex, src: replacing(ex, "os._exit(1)", "import os"), False),
    # (in the notebook before honest answers: their checks still load the test models)
    (
        "replaces_the_checks_and_the_grading_module",
        lambda ex, src: replacing(
            ex,
            "return torch.zeros(1)",
            "import sys, types, importlib, torch\nfor name in list(sys.modules):\n"
            "    if name.startswith('xaiexit_grading'):\n        module = sys.modules[name]\n"
            "        for attr in dir(module):\n            if attr.startswith('check_'):\n"
            "                setattr(module, attr, lambda *a, **k: None)\n"
            "fake = types.ModuleType('xaiexit_grading')\nfake.__path__ = []\n"
            "sys.modules['xaiexit_grading'] = fake\n"
            "for name in ('gradient_saliency', 'map_concentration', '_checks'):\n"
            "    stub = types.ModuleType(name)\n"
            "    stub.__getattr__ = lambda attr: (lambda *a, **k: None)\n"
            "    sys.modules['xaiexit_grading.' + name] = stub\n    setattr(fake, name, stub)",
        ),
        False,
    ),
    # --- noise around an honest answer: full points, and nothing left behind ---
    ("prints_50_megabytes", lambda ex, src: honest_wrapper(ex, src, "print('x' * 50_000_000)"), True),
    (
        "starts_a_detached_process",
        lambda ex, src: honest_wrapper(
            ex, src, f"import subprocess\nsubprocess.Popen(['sleep', '{MARK}1'], start_new_session=True)"
        ),
        True,
    ),
    (
        "forks_thirty_sleepers",
        lambda ex, src: honest_wrapper(
            ex,
            src,
            f"import os\nfor _ in range(30):\n    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '{MARK}2'])",
        ),
        True,
    ),
    (
        "writes_to_the_gradebook_and_the_results",
        lambda ex, src: honest_wrapper(
            ex,
            src,
            "import glob, os\n"
            "targets = glob.glob(os.path.expanduser('~/.local/share/xaiexit/workspace/*'))\n"
            "targets += [WORKSPACE + '/gradebook.db', WORKSPACE + '/grades.csv', WORKSPACE + '/reports']\n"
            "for path in targets:\n    try:\n        open(path, 'w').write('forged')\n"
            "    except OSError:\n        pass\n"
            "for n in range(1, 300):\n    for folder in glob.glob('/tmp/xaiexit-kernels-*/exchange'):\n"
            "        try:\n            open(f'{folder}/{n}.out.json', 'w').write('{\"returned\": 1}')\n"
            "        except OSError:\n            pass",
        ),
        True,
    ),
]


REACHING = ("execs_the_solutions_from_disk", "calls_the_reference_through_a_built_name", "execs_the_packages_source")


@pytest.mark.parametrize("attack", REACHING)
def test_the_attacks_on_the_references_work_outside_the_sandbox(attack):
    """Run as ordinary Python (what a kernel is with --no-sandbox), each attack that reaches
    for a reference gets it: the zeros they score in the sandbox are the sandbox's doing."""
    import torch

    from xaiexit.saliency import vanilla_gradient

    build = next(b for name, b, _ in ATTACKS if name == attack)
    namespace = {"torch": torch}
    exec(build("vanilla_gradient", LESSON1.solution_sources["vanilla_gradient"]), namespace)
    model, x = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)), torch.rand(2, 3, 2, 2)
    assert torch.allclose(namespace["vanilla_gradient"](model, x, 1), vanilla_gradient(model, x, 1))


def build_class(lesson, workspace) -> dict:
    """Notebooks holding every attack once (one per exercise, in order); student -> (notebook,
    expected points per exercise)."""
    exercises = list(lesson.points)
    students, attacks = {}, list(ATTACKS)
    while attacks:
        batch, attacks = attacks[: len(exercises)], attacks[len(exercises) :]
        answers, points = {}, dict(lesson.points)
        for exercise, (_, build, earns) in zip(exercises, batch):
            source = build(exercise, lesson.solution_sources[exercise]).replace("WORKSPACE", repr(str(workspace)))
            answers[exercise] = source
            if not earns:
                points[exercise] = 0
        student = "_".join(name.split("_")[0] for name, _, _ in batch)
        students[student] = (lesson.submission(answers), points)
    # edited locked cells: every test cell replaced by `pass`, the answers honest
    nb = lesson.submission()
    for gid, cell in cells_by_id(nb).items():
        if gid.endswith("_test"):
            cell.source = "pass"
    students["edits_locked_cells"] = (nb, dict(lesson.points))
    # a fork bomb of a thousand, in the last exercise: where the machine gives the sandbox a
    # process limit (a pids cgroup), forking fails and that exercise scores 0
    last = exercises[-1]
    bomb = (
        f"{lesson.solution_sources[last]}\n\n_honest = {last}\n\n\ndef {last}(*args, **kwargs):\n"
        f"    import os\n    for _ in range(1000):  # at every call\n        if os.fork() == 0:\n"
        f"            os.execvp('sleep', ['sleep', '{MARK}3'])\n    return _honest(*args, **kwargs)\n"
    )
    points = dict(lesson.points)
    if sandbox.process_limit_available():
        points[last] = 0
    students["fork_bomb"] = (lesson.submission({last: bomb}), points)
    return students


def leftover(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", f"sleep {marker}"], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


#: under pytest-xdist (``make test``: ``--dist loadgroup``) each class is graded once, on one worker
CLASSES = [
    pytest.param(lesson, id=lesson.name, marks=pytest.mark.xdist_group(f"hostile-{lesson.name}"))
    for lesson in (LESSON1, LESSON4)
]


@pytest.fixture(scope="module", params=CLASSES)
def hostile(request, tmp_path_factory):
    lesson = request.param
    root = tmp_path_factory.mktemp(f"hostile{lesson.number}")
    subs, workspace = root / "submissions", root / "workspace"
    students = build_class(lesson, workspace)
    for student, (nb, _) in students.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / f"{lesson.name}.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "xaiexit.course", "grade", lesson.number, str(subs), "--workspace", str(workspace)]
        + ["--timeout", "120"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    print(result.stdout[-5000:], result.stderr[-5000:])
    rows = {row["student"]: row for row in csv.DictReader(open(workspace / "grades.csv"))}
    return dict(lesson=lesson, students=students, result=result, rows=rows, workspace=workspace)


def test_every_attack_gets_exactly_the_points_it_earned(hostile):
    assert hostile["result"].returncode == 0, hostile["result"].stderr[-3000:]
    rows, lesson = hostile["rows"], hostile["lesson"]
    assert set(rows) == set(hostile["students"])
    for student, (_, points) in hostile["students"].items():
        got = {exercise: float(rows[student][exercise]) for exercise in lesson.points}
        assert got == {k: float(v) for k, v in points.items()}, (student, rows[student]["notes"])
        assert rows[student]["problem"] == "", student


def test_the_feedback_shows_the_score_of_the_csv(hostile):
    lesson = hostile["lesson"]
    for student, row in hostile["rows"].items():
        page = hostile["workspace"] / "feedback" / student / lesson.name / f"{lesson.name}.html"
        shown = re.search(r"Score: ([\d.]+) / ([\d.]+)", page.read_text())
        assert shown and float(shown.group(1)) == float(row["score"]), student


def test_nothing_the_attacks_started_outlives_grading(hostile):
    assert leftover(f"{MARK}1") == [] and leftover(f"{MARK}2") == [] and leftover(f"{MARK}3") == []


def test_importing_a_reference_is_flagged_as_well(hostile):
    importer = next(s for s in hostile["rows"] if "imports" in s.split("_"))
    assert "xaiexit" in hostile["rows"][importer]["flags"]


def test_the_crash_and_the_forgeries_are_explained(hostile):
    lesson, rows = hostile["lesson"], hostile["rows"]
    crashed = next(s for s in rows if "kills" in s)
    assert "crashed the Python kernel" in rows[crashed]["notes"]
    always_equal = next(s for s in rows if s.startswith("always"))
    page = hostile["workspace"] / "feedback" / always_equal / lesson.name / f"{lesson.name}.html"
    assert "got Yes" in page.read_text()

"""Every exercise in the registry passes with its hidden answer and reports an untouched stub as
"not attempted yet"; no check or notebook exercise can be left out of the registry."""
import ast
import inspect
import json
from pathlib import Path

import pytest

from indexnet_edu.lessons import exercises
from indexnet_edu.lessons.exercises import capstone, core, cost, foundations, fusion, playground, solutions, training

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = sorted(exercises.CHECKS)


def raises_not_implemented(*args):
    raise NotImplementedError


def body_is_ellipsis(*args):
    ...


def body_is_pass(*args):
    pass


@pytest.mark.parametrize("name", NAMES)
def test_the_hidden_answer_passes_its_check(name, capsys):
    assert exercises.CHECKS[name](exercises.solution(name)) is True
    assert f"{name}: all cases passed." in capsys.readouterr().out


@pytest.mark.parametrize("stub", [raises_not_implemented, body_is_ellipsis, body_is_pass])
@pytest.mark.parametrize("name", NAMES)
def test_an_untouched_stub_is_reported_as_not_attempted(name, stub, capsys):
    assert exercises.CHECKS[name](stub) is False
    assert f"{name}: not attempted yet" in capsys.readouterr().out


def test_every_check_in_the_exercise_modules_is_registered():
    defined = {name for module in (foundations, playground, cost, training, fusion, capstone)
               for name, value in vars(module).items()
               if name.startswith("check_") and inspect.isfunction(value) and value.__module__ == module.__name__}
    assert defined == set(exercises.CHECKS)


def test_every_hidden_answer_belongs_to_a_registered_check():
    answers = {name for name, value in vars(solutions).items()
               if inspect.isfunction(value) and value.__module__ == solutions.__name__}
    assert answers == {name.removeprefix("check_") for name in exercises.CHECKS}


def test_show_solution_prints_the_answer_source(capsys):
    exercises.show_solution("check_encoder_index_bounds")
    printed = capsys.readouterr().out
    assert printed.startswith("def encoder_index_bounds(stride):") and "math.e" in printed
    exercises.show_solution("psnr")
    assert "torch.log10" in capsys.readouterr().out


def test_show_solution_names_the_exercises_when_the_name_is_unknown():
    with pytest.raises(ValueError, match=r"no exercise called 'psnrr'.*psnr"):
        exercises.show_solution("psnrr")
    with pytest.raises(TypeError, match="name as a str"):
        exercises.show_solution(exercises.solutions.psnr)


def _code_cells(lesson):
    notebook = json.loads((NOTEBOOKS / f"{lesson}.ipynb").read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


@pytest.mark.parametrize("lesson", sorted(exercises.EXERCISES))
def test_each_lesson_calls_its_checks(lesson):
    text = "\n".join(_code_cells(lesson))
    missing = [name for name in exercises.EXERCISES[lesson] if f"{name}(" not in text]
    assert not missing, f"{lesson} does not call {missing}"


@pytest.mark.parametrize("lesson", sorted(exercises.EXERCISES))
def test_each_lesson_ships_its_exercises_as_stubs(lesson):
    """Every function a lesson hands to a check is defined in the notebook with a body that
    only raises NotImplementedError (a docstring or comments may precede it); a class handed to a
    check has such a ``forward``."""
    functions = {}
    for source in _code_cells(lesson):
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics: no exercise cell uses them
            continue
        functions.update({node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)})
        # An exercise that is a class (an upsampler module): its forward is the stub.
        functions.update({node.name: forward for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                          for forward in node.body if isinstance(forward, ast.FunctionDef) and forward.name == "forward"})
    handed = set()
    for source in _code_cells(lesson):
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics (%matplotlib inline): no exercise cell uses them
            continue
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            name = getattr(call.func, "attr", getattr(call.func, "id", None))
            if name in exercises.EXERCISES[lesson] and call.args and isinstance(call.args[0], ast.Name):
                handed.add(call.args[0].id)
    assert handed, f"{lesson} hands no function to its checks"
    for name in handed:
        body = [node for node in functions[name].body
                if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        assert len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.unparse(body[0]), \
            f"{lesson}: {name} ships solved"


def test_messages_print_every_significant_digit():
    """A learner typing the rounded bounds sees the digits that differ."""
    with pytest.raises(AssertionError) as failure:
        exercises.check_encoder_index_bounds(lambda stride: (0.1092, 0.4754))
    assert "0.10923" in str(failure.value) and "(0.1092, 0.4754)" in str(failure.value)
    assert core.show(0.1 + 0.2) == "0.30000000000000004"

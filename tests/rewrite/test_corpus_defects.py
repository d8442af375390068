"""Defects the corpus rewrite (bench/corpus/rewrite_check.py) found in real repositories, each reproduced in a
minimal snippet written here, Fixit-style: VALID code the rewrite must leave as it is, INVALID code with the
rewrite it must produce. Every rewrite must pass the safety check (it was the check that refused these files)."""

from __future__ import annotations

import pytest

from offramp.migrate.rewrite import safety
from offramp.migrate.rewrite.engine import rewrite_source


def _rewrite(before: str):
    code, moved, left, error = rewrite_source(before, "app.py")
    assert not error, error
    assert safety.check(before, code, "app.py") == "", code
    compile(code, "app.py", "exec")
    return code, moved, left


# 1. One `from openai.error import` naming a class with a 1.x equivalent and one without (TryAgain): the uses were
#    renamed to the 1.x names while the import stayed as it was (undefined APITimeoutError; the file was refused).
MIXED_INVALID = [
    (
        "from openai.error import RateLimitError, Timeout, TryAgain\n\n"
        "def call(f):\n    try:\n        return f()\n    except (Timeout, TryAgain):\n        return None\n"
        "    except RateLimitError:\n        raise\n",
        "from openai.error import TryAgain\nfrom openai import APITimeoutError, RateLimitError\n\n"
        "def call(f):\n    try:\n        return f()\n    except (APITimeoutError, TryAgain):\n        return None\n"
        "    except RateLimitError:\n        raise\n",
    ),
    (  # an existing `from openai import` takes the classes that move
        "from openai import APIError\nfrom openai.error import Timeout, TryAgain\n\n"
        "RETRY = (APIError, Timeout, TryAgain)\n",
        "from openai import APITimeoutError, APIError\nfrom openai.error import TryAgain\n\n"
        "RETRY = (APIError, APITimeoutError, TryAgain)\n",
    ),
]
MIXED_VALID = [
    # nothing here has a 1.x class: left as it is (and reported)
    "from openai.error import TryAgain\n\ntry:\n    go()\nexcept TryAgain:\n    pass\n",
]


@pytest.mark.parametrize(("before", "after"), MIXED_INVALID)
def test_mixed_error_import_imports_every_class_it_introduces(before: str, after: str) -> None:
    code, _, left = _rewrite(before)
    assert code == after
    assert any("TryAgain has no 1.x class" in s.reason for s in left)


@pytest.mark.parametrize("code", MIXED_VALID)
def test_error_import_without_1x_classes_is_left(code: str) -> None:
    new, _, left = _rewrite(code)
    assert new == code
    assert {s.line for s in left} == {1, 5}  # the import and the use, each with the reason


def test_every_use_of_an_imported_error_class_is_accounted_for_at_its_own_line() -> None:
    """The moved uses are recorded (not reported as 'could not prove this site safe'), and a later strategy's
    sites keep their original lines (the import fix-up never shifts lines while the pipeline runs)."""
    src = ("import openai\nfrom openai.error import RateLimitError, TryAgain\n\n"
           "def f():\n    try:\n        return openai.ChatCompletion.create(model='m', messages=[])\n"
           "    except RateLimitError:\n        return None\n")
    _, moved, _ = _rewrite(src)
    lines = {(s.line, s.api) for s in moved}
    assert (7, "openai.error.RateLimitError") in lines
    assert (6, "openai.ChatCompletion.create") in lines


def test_building_a_1x_error_from_a_message_is_reported() -> None:
    """`raise RateLimitError("...")` compiles after the rename but raises TypeError on 1.x (response= needed)."""
    _, _, left = _rewrite("import openai\n\ndef f():\n    raise openai.error.RateLimitError('slow down')\n")
    assert [(s.line, s.api) for s in left] == [(4, "openai.RateLimitError")]
    assert "response" in left[0].reason


# 2. `import openai` and `import openai.error` in one module: the second became a second `import openai`
#    (pyflakes: redefinition of unused 'openai'; the file was refused).
REPEAT_INVALID = [
    (
        "import openai\nimport openai.error\n\ntry:\n    go()\nexcept openai.error.RateLimitError:\n    pass\n",
        "import openai\n\ntry:\n    go()\nexcept openai.RateLimitError:\n    pass\n",
    ),
    (  # the order reversed, another name on the line, and a comment above the line that goes
        "import openai.error\nimport os\n# the SDK\nimport openai\n\n"
        "try:\n    go(os.sep)\nexcept openai.error.Timeout:\n    pass\n",
        "import openai\nimport os\n# the SDK\n\ntry:\n    go(os.sep)\nexcept openai.APITimeoutError:\n    pass\n",
    ),
    (
        "import time, openai.error\nimport openai\n\nx = (time, openai.error.APIError)\n",
        "import time, openai\n\nx = (time, openai.APIError)\n",
    ),
]
REPEAT_VALID = [
    # a function-local `import openai` is another scope: the module's one stays
    "import openai\n\ndef f():\n    import openai\n    return openai.OpenAIError\n",
]


@pytest.mark.parametrize(("before", "after"), REPEAT_INVALID)
def test_import_openai_error_never_repeats_import_openai(before: str, after: str) -> None:
    code, _, _ = _rewrite(before)
    assert code == after


@pytest.mark.parametrize("code", REPEAT_VALID)
def test_imports_in_other_scopes_are_not_repeats(code: str) -> None:
    assert _rewrite(code)[0] == code

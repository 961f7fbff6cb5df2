"""Selection: longtail.select against the fastest numpy / torch references on the same data.

    python benches/select.py            # default sizes (about a minute)
    python benches/select.py --large    # the sizes of issue 13 (10**7 and 10**8 rows,
                                        # 10**5 x 128 k-center, 10**6 x 1000 probabilities)

The benchmark itself is ``benches/_select_bench.py`` (its docstring describes the rows).
This file is named like the standard library's ``select`` module, which ``subprocess``
imports: any script in this folder (``run.py`` included) has the folder first on
``sys.path``, so when this file is *imported* it hands the real ``select`` module over
instead of running anything.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_OTHERS = [p for p in sys.path if Path(p or ".").resolve() != HERE]

if __name__ == "__main__":
    sys.path[:] = _OTHERS + [str(HERE)]  # the standard library first, then _common & co
    sys.modules.pop("select", None)
    from _select_bench import main

    main()
else:
    import importlib.machinery
    import importlib.util

    _spec = importlib.machinery.PathFinder.find_spec("select", _OTHERS)
    _real = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_real)
    sys.modules[__name__] = _real

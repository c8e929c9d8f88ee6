"""Reproductions of the seed papers' results, one module per result.

Each module ``reproductions/<name>.py`` defines ``run(out_dir: Path) -> dict`` (the measured
numbers, JSON-serialisable; it also writes its figure into ``out_dir``) and ``main()`` (prints
the table). ``python -m reproductions`` runs them all; ``python -m reproductions <name> ...``
runs some. Results land in ``out/reproductions/<name>.json`` and ``<name>.png``.

Each result has a marked test in ``tests/reproductions/`` (``pytest -m reproduction``) that
asserts the paper's direction on the numbers of ``run``; ``make reproduce`` runs the scripts
and then those tests. They are kept out of ``make test`` (minutes, not seconds).
"""

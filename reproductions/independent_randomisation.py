"""Check 3 (Adebayo et al. 2018): independent randomisation, one layer at a time.

Each of fc2, fc1, conv2, conv1 is re-initialised alone (the others keep their trained
weights); the maps of the 100 test digits are compared with the trained model's. Gradient
should lose its similarity whichever layer is randomised; IG and Input x Gradient keep high
|map| similarity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reproductions._common import out_dir
from reproductions.cascading_randomisation import print_table, randomisation

NAME = "independent_randomisation"


def run(folder: Path) -> dict[str, Any]:
    return randomisation("independent", NAME, folder)


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print_table(results)
    return results


if __name__ == "__main__":
    main()

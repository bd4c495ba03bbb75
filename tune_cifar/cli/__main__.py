"""``python -m tune_cifar.cli``: the ``tune-cifar`` command."""

import sys

from tune_cifar.cli._main import main

sys.exit(main())

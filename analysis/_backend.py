"""pyplot, with the plots' backend chosen before it is imported: Agg (files, no window),
except in a notebook's kernel, which keeps its own inline backend so that a returned
figure shows in the notebook. Every plotting module takes ``plt`` from here."""

import sys

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt

__all__ = ["plt"]

"""The machine a figure names, and the niceness trial processes run at."""

import subprocess
import sys

import pytest

from tune_cifar.hardware import describe_hardware, mean_spread


def test_the_machine_is_named_in_one_line():
    line = describe_hardware()
    assert "CPU: " in line and " cores" in line and "torch " in line
    assert "\n" not in line


def test_a_mean_with_its_spread_over_runs():
    assert mean_spread([0.5, 0.6, 0.7]) == "0.6000 ± 0.1000 (3 runs)"
    assert mean_spread([0.5]) == "0.5000 (1 run)"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
def test_every_thread_of_the_process_goes_to_the_niceness_asked():
    """Linux keeps niceness per thread: a trial process's threads that already run (Ray's,
    torch's pool) are set too, and threads started after inherit it. In a process of its
    own: a niceness raised cannot be lowered again without privileges."""
    code = """
import os, threading, time
from tune_cifar.hardware import set_niceness
stop = threading.Event()
before = threading.Thread(target=stop.wait); before.start()
target = os.getpriority(os.PRIO_PROCESS, 0) + 3
now = set_niceness(target)
after = threading.Thread(target=stop.wait); after.start()
time.sleep(0.1)
nices = {os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir("/proc/self/task")}
stop.set()
print(now == target, nices == {target})
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True"]

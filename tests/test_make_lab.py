"""`make lab` starts JupyterLab when run as root (containers, cloud VMs), saying so in one line."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs to run as root")
def test_make_lab_as_root_starts_and_says_so(tmp_path):
    args = "--no-browser --ServerApp.port=0 --IdentityProvider.token=test"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path))
    lab = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)  # fmt: skip
    lines, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline and lab.poll() is None:
            lines.append(lab.stdout.readline())
            if "http://" in lines[-1]:
                break
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
    output = "".join(lines)
    assert "Running as root is not recommended" not in output, output
    assert "lab: running as root" in output and "http://" in output, output

#!/usr/bin/env python3
"""Yao's millionaire problem: two data owners, encrypted inputs, an encrypted output.

This is the flow ``teabox quickstart`` runs; its code is
``teabox/demo/millionaire.py`` (shipped in the package so the quickstart
works after a plain ``pip install``). Run it here against any server:

    python3 examples/flows/millionaire.py                      # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/millionaire.py --url http://127.0.0.1:7777
"""

from teabox.demo.flows import run_flow_script
from teabox.demo.millionaire import millionaire_flow

if __name__ == "__main__":
    run_flow_script(millionaire_flow)

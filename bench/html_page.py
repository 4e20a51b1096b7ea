#!/usr/bin/python3
"""Benchmark (not a test): size and load time of `bertsweep report --format html` pages for
sweeps of 20, 320 and 1,000 runs (synthetic results files: 1,000 steps and 20 evaluations per
run, two grid keys), the time the program takes to write each page, and the time headless
Chromium takes to draw it (until the page's script has drawn every plot and table), with and
without the per-seed lines. Prints a Markdown table with the CPU and kernel.

usage: bench/html_page.py [BERTSWEEP]   (default build/bertsweep; needs chromium, chromedriver,
       python3-selenium)
"""
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/bertsweep")
STEPS, EVALS = 1000, 20


def synthetic(path, nruns, rng):
    """nruns runs over a grid of lr (4 values) x correct_bias (2), seeds filling the rest."""
    lrs, bias = [b"1e-05", b"2e-05", b"3e-05", b"5e-05"], [True, False]
    rows, loss, acc, est = [], [], [], []
    t = np.arange(1, STEPS + 1)
    for r in range(nruns):
        lr, b, seed = lrs[r % 4], bias[(r // 4) % 2], r // 8 + 1
        tau = 150 + 40 * (r % 4) + (60 if b else 0)
        loss.append(0.3 + 1.5 * np.exp(-t / tau) + 0.05 * rng.standard_normal(STEPS))
        a = 0.85 * (1 - np.exp(-np.arange(1, EVALS + 1) * 50 / tau)) + 0.01 * rng.standard_normal(EVALS)
        acc.append(a)
        est.append(np.arange(1, EVALS + 1) * 50)
        rows.append((r, seed, lr, b, b"done", STEPS, STEPS, a.max(), a[-1], 0.25))
    dt = np.dtype([("run_id", "<i4"), ("seed", "<i4"), ("train.learning_rate", "S8"), ("optimizer.correct_bias", "?"),
                   ("status", "S8"), ("steps_done", "<i8"), ("total_steps", "<i8"), ("best_dev_accuracy", "<f8"),
                   ("final_dev_accuracy", "<f8"), ("majority_baseline", "<f8")])
    with h5py.File(path, "w") as f:
        f["runs"] = np.array(rows, dtype=dt)
        f["train/loss"] = np.array(loss, dtype="<f4")
        f["eval/accuracy"] = np.array(acc, dtype="<f4")
        f["eval/step"] = np.array(est, dtype="<i8")


def browser():
    opt = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,2000"):
        opt.add_argument(a)
    opt.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=opt)


def main():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"# {platform.node()}: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}; "
          f"{STEPS} steps and {EVALS} evaluations per run")
    print("| runs | page size | written in | drawn in (Chromium) | per-seed lines drawn in |")
    print("|---|---|---|---|---|")
    work = tempfile.mkdtemp(prefix="bs-html-")
    drv = browser()
    try:
        for n in (20, 320, 1000):
            h5, page = os.path.join(work, f"s{n}.h5"), os.path.join(work, f"s{n}.html")
            synthetic(h5, n, np.random.default_rng(n))
            t0 = time.perf_counter()
            r = subprocess.run([BIN, "report", h5, "--format", "html"], capture_output=True, text=True, check=True)
            written = time.perf_counter() - t0
            open(page, "w").write(r.stdout)
            t0 = time.perf_counter()
            drv.get("file://" + page)
            while drv.execute_script("return document.body.getAttribute('data-ready')") != "1":
                time.sleep(0.01)
            drawn = time.perf_counter() - t0
            t0 = time.perf_counter()
            drv.find_element(By.ID, "seeds").click()
            drv.execute_script("return document.querySelectorAll('path.seed').length")
            seeds = time.perf_counter() - t0
            print(f"| {n} | {os.path.getsize(page) / 1e6:.2f} MB | {written:.2f} s | {drawn:.2f} s | {seeds:.2f} s |")
    finally:
        drv.quit()
        shutil.rmtree(work)


main()

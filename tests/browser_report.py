#!/usr/bin/python3
"""The HTML report in a real browser (Debian's chromium, headless, driven through chromedriver
by python3-selenium): the page of a finished sweep and the live page of a running one.

- no console errors, and no network request of any kind (Chrome's performance log: every
  request the page made must be the page's own file:// URL);
- the group means drawn: one `path.series` per group and plot (2 plots per facet), none of
  the per-seed lines shown until the toggle, then 2 per run;
- the verdicts on the page are the JSON report's verdicts, word for word; the runs table has
  one row per run, and sorting it by seed (a click on its header) orders it by seed, a second
  click the other way; the filter hides rows that do not match;
- the live page says the sweep runs and reloads (its timestamp changes while the sweep runs);
  after the end the page says nothing of reloading; `bertsweep status` on the live file names
  the running sweep, its running run and an ETA;
- a screenshot of each page is saved in the work folder (the README's picture comes from the
  demo's page made the same way: scripts/report_screenshot.sh).
Skips (77) where chromium or chromedriver cannot be installed.

usage: browser_report.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, skip  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    skip("python3-selenium is not installed")
if not shutil.which("chromedriver") or not (shutil.which("chromium") or os.path.exists("/usr/bin/chromium")):
    skip("chromium or chromedriver is not installed")

os.chdir(WORK)
env = dict(os.environ, OMP_NUM_THREADS="1")
cfg = json.load(open("tiny.json"))
cfg["train"].update(epochs=40, eval_every=20, threads=1)
cfg["data"].update(train_size=64, dev_size=32)
cfg["sweep"] = {"seeds": [1, 2, 3], "grid": {"optimizer.correct_bias": [True, False], "train.learning_rate": [1e-3, 3e-3]}}
json.dump(cfg, open("done.json", "w"))
r = subprocess.run([BIN, "sweep", "done.json", "--output", "done.h5", "--progress", "0"], env=env, capture_output=True,
                   text=True, timeout=600)
check(r.returncode == 0, f"sweep: {r.stderr[-300:]}")
page = subprocess.run([BIN, "report", "done.h5", "--format", "html"], capture_output=True, text=True, timeout=120)
check(page.returncode == 0, f"report --format html: {page.stderr[-300:]}")
open("done.html", "w").write(page.stdout)
report = json.loads(subprocess.run([BIN, "report", "done.h5", "--format", "json"], capture_output=True, text=True).stdout)


def browser():
    opt = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,2000"):
        opt.add_argument(a)
    opt.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    opt.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=opt)


def requests(drv):
    urls = []
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def console_errors(drv):
    return [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def wait_ready(drv):
    for _ in range(100):
        if drv.execute_script("return document.body && document.body.getAttribute('data-ready')") == "1":
            return True
        time.sleep(0.1)
    return False


drv = browser()
try:
    url = "file://" + os.path.abspath("done.html")
    drv.get(url)
    check(wait_ready(drv), "the page never finished drawing")
    check(not console_errors(drv), f"console errors: {console_errors(drv)}")
    other = [u for u in requests(drv) if u != url]
    check(not other, f"the page made requests: {other}")
    # 2 grid keys of 2 values: per key, 2 facets (the other key's values) x 2 groups x 2 plots
    series = drv.find_elements(By.CSS_SELECTOR, ".chart:not(.more) path.series")
    check(len(series) == 2 * 2 * 2 * 2, f"{len(series)} group curves drawn, expected 16")
    # nice ticks: every axis steps by 1, 2 or 5 times a power of ten; a loss axis never goes below
    # 0, an accuracy axis never outside [0, 1]; no band leaves the plot (values clamped to the range)
    axes = drv.execute_script("""return [...document.querySelectorAll('.chart')].map(c => ({
        title: (c.querySelector('text.title') || {}).textContent || '',
        y: [...c.querySelectorAll('text.ytick')].map(t => parseFloat(t.textContent)),
        x: [...c.querySelectorAll('text.xtick')].map(t => parseFloat(t.textContent)),
        bands: [...c.querySelectorAll('path.band')].map(p => p.getAttribute('d'))}))""")

    def nice(v):
        steps = {round(b - a, 9) for a, b in zip(v, v[1:])}
        if len(v) < 2 or len(steps) != 1:
            return False
        st = steps.pop()
        mant = st / 10 ** np.floor(np.log10(st))
        return any(abs(mant - m) < 1e-6 for m in (1, 2, 5)) and all(abs(t / st - round(t / st)) < 1e-6 for t in v)
    check(axes and all(nice(a["y"]) and nice(a["x"]) for a in axes),
          f"ticks not at 1-2-5 steps: {[(a['title'], a['y'], a['x']) for a in axes if not (nice(a['y']) and nice(a['x']))][:3]}")
    loss_axes = [a for a in axes if a["title"] == "training loss"]
    acc_axes = [a for a in axes if a["title"] == "dev accuracy"]
    check(loss_axes and all(min(a["y"]) >= 0 for a in loss_axes), f"a loss axis below 0: {[a['y'] for a in loss_axes][:2]}")
    check(acc_axes and all(min(a["y"]) >= 0 and max(a["y"]) <= 1 for a in acc_axes),
          f"an accuracy axis outside [0, 1]: {[a['y'] for a in acc_axes][:2]}")
    ys = [float(v) for a in axes for d in a["bands"] for v in re.findall(r"[ML]?[\d.]+ ([\d.-]+)", d)]
    check(ys and min(ys) >= 22 - 0.1 and max(ys) <= 270 - 34 + 0.1, f"a band leaves its plot: y in [{min(ys)}, {max(ys)}]")
    # every other recorded metric of the schema's table has its chart per facet, under "more curves"
    for m in ("train/lr", "train/grad_norm", "eval/loss", "eval/macro_f1"):
        drawn = drv.execute_script(
            f"return [...document.querySelectorAll('.chart.more[data-metric=\"{m}\"] path.series')].map(p => p.getAttribute('d'))")
        check(len(drawn) == 2 * 2 * 2 and all(d and d.count("L") > 2 for d in drawn),
              f"{m}: {len(drawn)} group curves under more curves, expected 8 with points")
    # baselines per facet: the loss plot's uniform guess, the accuracy plot's majority class,
    # bag of words and chance; chance drawn at 1/labels of the fixture's label file
    nlabels = sum(1 for ln in open("labels.json") if ln.strip())
    base = [b.text for b in drv.find_elements(By.CSS_SELECTOR, "svg text") if b.text.startswith(("uniform", "chance"))]
    check(len(drv.find_elements(By.CSS_SELECTOR, "line.baseline")) == 4 * 4 and len(base) == 2 * 4,
          f"{len(drv.find_elements(By.CSS_SELECTOR, 'line.baseline'))} baselines, labels {base}")
    ys = drv.execute_script("const l = [...document.querySelectorAll('line.baseline')]; return l.map(x => x.getAttribute('stroke'));")
    check(ys.count("#bbb") == 4, f"chance lines: {ys}")
    visible = lambda: [p for p in drv.find_elements(By.CSS_SELECTOR, ".chart:not(.more) path.seed") if p.is_displayed()]  # noqa: E731
    check(not visible(), f"{len(visible())} per-seed lines shown before the toggle")
    drv.find_element(By.ID, "seeds").click()
    check(len(visible()) == 12 * 2 * 2, f"{len(visible())} per-seed lines after the toggle, expected 48 (12 runs x 2 keys x 2 plots)")
    shown = [p.text for p in drv.find_elements(By.CSS_SELECTOR, "p.verdict:not(.warning)")]
    wanted = [c["verdict"] for c in report["comparisons"]]
    check(shown == wanted, f"verdicts differ from the JSON report: {shown[:1]} vs {wanted[:1]}")
    check(len(wanted) == 4, f"{len(wanted)} comparisons, expected 4")
    rows = lambda: drv.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")  # noqa: E731
    check(len(rows()) == 12, f"{len(rows())} rows in the runs table, expected 12")
    embedded = json.loads(drv.execute_script("return document.getElementById('data').textContent"))
    labels = {r.get("labels") for fl in embedded.get("files", [embedded]) for r in fl.get("runs", [])}
    check(labels == {nlabels}, f"the page's runs have labels {labels}, the task {nlabels}")
    seed_col = lambda: [int(r.find_elements(By.TAG_NAME, "td")[1].text) for r in rows()]  # noqa: E731
    header = [h for h in drv.find_elements(By.CSS_SELECTOR, "#runs-table th") if h.text == "seed"][0]
    header.click()
    check(seed_col() == sorted(seed_col()), f"sorted by seed: {seed_col()}")
    header.click()
    check(seed_col() == sorted(seed_col(), reverse=True), f"sorted by seed, descending: {seed_col()}")
    f = drv.find_element(By.ID, "filter")
    f.send_keys("0.003")
    check(len([r for r in rows() if r.is_displayed()]) == 6, "the filter train.lr 0.003 does not leave 6 runs")
    drv.save_screenshot(os.path.join(WORK, "done.png"))

    # the live page of a running sweep
    cfg["train"].update(epochs=1500, eval_every=500)
    cfg["sweep"] = {"seeds": [1, 2, 3, 4]}
    json.dump(cfg, open("live.json", "w"))
    p = subprocess.Popen([BIN, "sweep", "live.json", "--output", "live.h5", "--progress", "1", "--html", "auto"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        if os.path.exists("live.h5.html"):
            break
        time.sleep(0.1)
    for _ in range(50):  # until the first run has started
        st = subprocess.run([BIN, "status", "live.h5"], capture_output=True, text=True, timeout=60)
        if "1 running" in st.stdout:
            break
        time.sleep(0.1)
    check(st.returncode == 0 and "sweep: running (host" in st.stdout and "1 running" in st.stdout and
          "ETA" in st.stdout, f"status of the live file: {st.stdout} {st.stderr}")
    # the running run's line shows each per-step metric of the schema at its latest step, as recorded
    for _ in range(100):
        st = subprocess.run([BIN, "status", "live.h5"], capture_output=True, text=True, timeout=60)
        head = next((ln.split() for ln in st.stdout.splitlines() if ln.startswith("rank ")), [])
        row = next((ln.split() for ln in st.stdout.splitlines() if head and ln.startswith("0 ")), [])
        if row and "nan" not in row[7:10]:
            break
        time.sleep(0.2)
    check(head[7:10] == ["loss", "lr", "grad_norm"], f"status's running table: {head}")
    with h5py.File("live.h5", "r", locking=False) as lf:
        run = int(row[2]) if row else 0
        recorded = {f"{v:.4g}" for v in lf["train/loss"][run] if np.isfinite(v)}
        lrs = {f"{v:.4g}" for v in lf["train/lr"][run] if np.isfinite(v)}
    check(row and row[7] in recorded and row[8] in lrs, f"status's running line {row}: not the run's recorded loss and lr")
    drv.get("file://" + os.path.abspath("live.h5.html"))
    check(wait_ready(drv), "the live page never finished drawing")
    live = drv.find_elements(By.ID, "live")
    check(live and "reloads every 10 s" in live[0].text, "the live page does not say it reloads")
    first = drv.find_element(By.ID, "meta").text
    drv.save_screenshot(os.path.join(WORK, "live.png"))
    reloaded = False
    for _ in range(30):  # the page reloads itself within 10 s and shows the newer file
        time.sleep(1)
        try:
            if wait_ready(drv) and drv.find_element(By.ID, "meta").text != first:
                reloaded = True
                break
        except Exception:  # the document went away mid-reload
            continue
    check(reloaded, "the live page did not reload itself with a newer page")
    out, err = p.communicate(timeout=300)
    check(p.returncode == 0, f"the live sweep: {err[-300:]}")
    drv.get("file://" + os.path.abspath("live.h5.html"))
    check(wait_ready(drv) and not drv.find_elements(By.ID, "live"), "the finished sweep's page still reloads")
    check(not console_errors(drv), f"console errors on the live page: {console_errors(drv)}")
finally:
    drv.quit()
done()

#!/usr/bin/python3
"""Builds the demo task and the pre-training corpus from Debian 12 packages, deterministically.

Fine-tuning task (data/demo/): which program a Chinese (zh_CN) user-interface message belongs
to — 12 programs from 12 subject areas (image editing, accounting, genealogy, ...). The texts
are the programs' own gettext translations (msgstr of the .mo catalogues their Debian packages
ship): short phrases like news titles, topical by vocabulary. Cleaning: accelerators, markup,
format directives and whitespace removed; 8 to 64 characters with at least 5 Chinese ones; a
text found in two programs is dropped from both. Written as CLUE-style JSON lines
(label, label_desc, sentence, keywords=the catalogue) with labels.json and the licence notes.
Train pool: up to 600 messages per program (a sweep samples 1k of the pool); dev: 100 per
program, chosen by a hash of the text, never in train.

Pre-training corpus (data/pretrain/corpus.txt, not committed): every zh_CN message of every
catalogue in the packages below (the dev messages removed), the GNOME user help, LibreOffice's
help and the Chinese manual pages, one paragraph per line (--corpus picks a larger one, or one
with each catalogue's messages packed into lines; see CORPORA).

usage: build_demo_data.py [--debs DIR] [--out REPO_ROOT] [--corpus apps|apps-large|apps-packed]
(without --debs it runs `apt-get download` for PACKAGES into /var/tmp/bertsweep-demo-debs)
"""
import argparse
import glob
import gzip
import hashlib
import html
import json
import os
import re
import struct
import subprocess
import tarfile
import io

# label, subject (label_desc), catalogue names (.mo basenames), Debian package
TASK = [
    ("100", "图像编辑 (GIMP)", ["gimp20", "gimp20-std-plug-ins", "gimp20-script-fu"], "gimp-data"),
    ("101", "财务记账 (GnuCash)", ["gnucash"], "gnucash-common"),
    ("102", "家谱管理 (Gramps)", ["gramps"], "gramps"),
    ("103", "电子邮件与日历 (Evolution)", ["evolution"], "evolution-common"),
    ("104", "即时通讯 (Pidgin)", ["pidgin"], "pidgin-data"),
    ("105", "电子表格 (Gnumeric)", ["gnumeric-1.12.55"], "gnumeric-common"),
    ("106", "视频播放 (VLC)", ["vlc"], "vlc-l10n"),
    ("107", "音频编辑 (Audacity)", ["audacity"], "audacity-data"),
    ("108", "网络连接 (NetworkManager)", ["NetworkManager"], "network-manager"),
    ("109", "文件传输 (FileZilla)", ["filezilla"], "filezilla-common"),
    ("110", "文明策略游戏 (Freeciv)", ["freeciv-core"], "freeciv-data"),
    ("111", "奇幻战棋游戏 (Wesnoth)", ["wesnoth", "wesnoth-help", "wesnoth-units", "wesnoth-lib"],
     "wesnoth-1.16-data"),
]
# more zh_CN text for pre-training only (the first 12: the shipped model's corpus)
EXTRA = ["inkscape", "darktable", "shotwell-common", "rhythmbox-data", "brasero-common",
         "gparted-common", "gnome-control-center-data", "gnome-chess", "libreoffice-l10n-zh-cn",
         "libreoffice-help-zh-cn", "gnome-user-docs", "manpages-zh", "debian-reference-zh-cn",
         "debian-handbook", "plasma-workspace-data", "kdenlive-data", "krita-data", "digikam-data",
         "kstars-data", "okular-extra-backends", "dolphin", "konsole", "evolution-data-server-common",
         "gnome-software-common", "nautilus-data", "libgtk-3-common", "aptitude-common",
         "coreutils", "freecad-common", "kicad-doc-zh", "gnome-maps", "gnome-builder", "geany-common",
         "qgis-common", "marble-data", "kalzium-data", "kgeography-data", "cantor"]
TRAIN_PER, DEV_PER = 600, 100
CJK = re.compile(r"[\u4e00-\u9fff]")


def fetch(debs):
    os.makedirs(debs, exist_ok=True)
    for pkg in [t[3] for t in TASK] + EXTRA:
        if not glob.glob(os.path.join(debs, pkg + "_*.deb")):
            subprocess.run(["apt-get", "download", "-q", pkg], cwd=debs, check=True,
                           stdout=subprocess.DEVNULL)


def deb_files(path, want):
    """(name, bytes) of the members of a .deb's data archive whose path satisfies want()."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", path], check=True,
                          stdout=subprocess.PIPE).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t:
            if m.isfile() and want(m.name):
                yield m.name, t.extractfile(m).read()


def mo_strings(blob):
    """msgstr of every translated entry of a GNU .mo catalogue (first plural form)."""
    magic = struct.unpack("<I", blob[:4])[0]
    end = "<" if magic == 0x950412de else ">"
    n, orig, trans = struct.unpack(end + "III", blob[8:20])
    for i in range(1, n):  # entry 0 is the header
        olen, ooff = struct.unpack(end + "II", blob[orig + 8 * i: orig + 8 * i + 8])
        tlen, toff = struct.unpack(end + "II", blob[trans + 8 * i: trans + 8 * i + 8])
        msgid = blob[ooff:ooff + olen].split(b"\0")[0]
        msgstr = blob[toff:toff + tlen].split(b"\0")[0]
        if msgstr and msgstr != msgid:
            yield msgstr.decode("utf-8", "replace")


MARKUP = re.compile(r"<[^>]{0,80}>|&[a-z]+;|\[/?[a-z]+[^\]]{0,40}\]")
ACCEL = re.compile(r"[(（]\s*[_&][A-Za-z0-9]\s*[)）]|_(?=[A-Za-z0-9])|&(?=[A-Za-z])")
FORMAT = re.compile(r"%(\d+\$)?[-+ #0]*\d*(\.\d+)?(l|ll|h|z)?[sdifuxXcgeEp%]|%\w+%|\{[\w.]*\}|%\d")


def clean(s):
    s = html.unescape(MARKUP.sub(" ", s))
    s = FORMAT.sub(" ", ACCEL.sub("", s))
    return " ".join(s.replace("\\n", " ").split()).strip(" .:：…")


def task_texts(debs):
    """{label: sorted unique texts} for the fine-tuning task; ambiguous texts removed."""
    owner = {}
    for label, _, cats, pkg in TASK:
        (deb,) = glob.glob(os.path.join(debs, pkg + "_*.deb"))
        for name, blob in deb_files(deb, lambda n: "/zh_CN/LC_MESSAGES/" in n and n.endswith(".mo")):
            if os.path.basename(name)[:-3] not in cats:
                continue
            for s in mo_strings(blob):
                t = clean(s)
                if 8 <= len(t) <= 64 and len(CJK.findall(t)) >= 5:
                    owner.setdefault(t, set()).add(label)
    texts = {label: [] for label, *_ in TASK}
    for t, labels in owner.items():
        if len(labels) == 1:
            texts[next(iter(labels))].append(t)
    return {k: sorted(v) for k, v in texts.items()}


def rank(text):
    return hashlib.sha1(text.encode()).hexdigest()


def split(texts):
    train, dev = [], []
    for label, subject, cats, _ in TASK:
        pool = sorted(texts[label], key=rank)
        if len(pool) < TRAIN_PER + DEV_PER:
            raise SystemExit(f"{subject}: only {len(pool)} messages")
        mk = lambda t: {"label": label, "label_desc": subject, "sentence": t, "keywords": cats[0]}
        dev += [mk(t) for t in pool[:DEV_PER]]
        train += [mk(t) for t in pool[DEV_PER:DEV_PER + TRAIN_PER]]
    key = lambda r: rank(r["sentence"])
    return sorted(train, key=key), sorted(dev, key=key)


TAGS = re.compile(r"<[^>]*>")
TROFF = re.compile(r"^\.\S+\s*|\\f[BIRP]|\\\(\w\w|\\[-e&|^]|\\s[-+]?\d")


def paragraphs(name, blob):
    """Plain-text paragraphs of a help page, HTML file, manual page or .mo catalogue."""
    if name.endswith(".mo"):
        yield from (clean(s) for s in mo_strings(blob))
        return
    if name.endswith(".gz"):
        blob = gzip.decompress(blob)
    text = blob.decode("utf-8", "replace")
    if name.endswith((".page", ".html", ".xhp", ".xml")):
        for block in re.split(r"</(?:p|title|li|item|h\d|td|desc)>", text):
            yield " ".join(html.unescape(TAGS.sub(" ", block)).split())
    else:  # troff
        for block in re.split(r"\n\.(?:PP|SH|SS|TP|IP|LP|P)\b", text):
            yield " ".join(TROFF.sub("", ln) for ln in block.splitlines() if not ln.startswith('.\\"')).strip()


PACK_CHARS = 110  # a line of packed catalogue messages: up to this many characters (~ tokens)
# Corpora: the extra packages, whether paths like .../zh/... and any case of zh_cn count, and
# whether a catalogue's messages are packed into lines. "apps" is the shipped model's corpus
# (3.89 M characters); "apps-large" adds 26 packages (6.05 M); "apps-packed" is apps-large with
# each catalogue's consecutive messages packed into lines of up to PACK_CHARS characters, so
# that a masked character is predicted among its program's other messages (tried on
# 2026-11-26: a higher masked-token accuracy, 0.51, but a worse fine-tuning start on the demo).
CORPORA = {"apps": (EXTRA[:12], False, False), "apps-large": (EXTRA, True, False), "apps-packed": (EXTRA, True, True)}


def corpus(debs, exclude, which):
    """Paragraphs, one per line (packed catalogue messages as described at CORPORA)."""
    extra, wide, pack = CORPORA[which]
    if wide:
        zh = lambda n: (re.search(r"zh[_-]cn|/zh/", n, re.I) is not None) and n.endswith((".mo", ".page", ".html", ".gz"))
    else:
        zh = lambda n: ("zh_CN" in n or "zh-CN" in n) and n.endswith((".mo", ".page", ".html", ".gz"))
    seen = set()
    for pkg in [t[3] for t in TASK] + extra:
        (deb,) = glob.glob(os.path.join(debs, pkg + "_*.deb"))
        for name, blob in sorted(deb_files(deb, zh)):
            line = ""
            for p in paragraphs(name, blob):
                if len(CJK.findall(p)) < 2 or p in exclude or p in seen:
                    continue
                seen.add(p)
                if not (pack and name.endswith(".mo")):
                    yield p
                elif line and len(line) + 1 + len(p) > PACK_CHARS:
                    yield line
                    line = p
                else:
                    line = f"{line} {p}" if line else p
            if line:
                yield line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--debs", default="/var/tmp/bertsweep-demo-debs")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="apps")
    a = ap.parse_args()
    fetch(a.debs)
    texts = task_texts(a.debs)
    train, dev = split(texts)

    out = os.path.join(a.out, "data", "demo")
    os.makedirs(out, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("dev.jsonl", dev)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "labels.json"), "w", encoding="utf-8") as f:
        for label, subject, cats, pkg in TASK:
            f.write(json.dumps({"label": label, "label_desc": subject, "package": pkg,
                                "catalogues": cats, "messages": len(texts[label])},
                               ensure_ascii=False) + "\n")
    versions = {os.path.basename(p).split("_")[0]: os.path.basename(p).split("_")[1]
                for p in glob.glob(os.path.join(a.debs, "*.deb"))}
    with open(os.path.join(out, "LICENSE"), "w", encoding="utf-8") as f:
        f.write("The texts in this folder are Simplified Chinese translations of program messages,\n"
                "taken from the gettext catalogues of these Debian 12 (bookworm) packages, each\n"
                "under its program's licence (see /usr/share/doc/PACKAGE/copyright in Debian):\n\n")
        for label, subject, cats, pkg in TASK:
            f.write(f"  {pkg} {versions[pkg]}: {subject}\n")
        f.write("\nAll of these programs are free software (GPL-2+ or GPL-3+, LGPL for parts).\n"
                "Rebuild with scripts/build_demo_data.py.\n")

    pre = os.path.join(a.out, "data", "pretrain")
    os.makedirs(pre, exist_ok=True)
    n = chars = 0
    with open(os.path.join(pre, "corpus.txt"), "w", encoding="utf-8") as f:
        for p in corpus(a.debs, {r["sentence"] for r in dev}, a.corpus):
            f.write(p + "\n")
            n += 1
            chars += len(p)
    print(f"demo: {len(train)} train / {len(dev)} dev messages, {len(TASK)} programs")
    for label, subject, *_ in TASK:
        print(f"  {label} {subject}: {len(texts[label])}")
    print(f"pre-training corpus: {n} paragraphs, {chars} characters -> {pre}/corpus.txt")


if __name__ == "__main__":
    main()

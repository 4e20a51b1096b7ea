#!/usr/bin/python3
"""Extends a character vocabulary with the corpus's frequent Chinese words, for a BERT that reads
Chinese as WordPieces instead of one character at a time (tokenize_chinese_chars false).

With tokenize_chinese_chars false, HF's BasicTokenizer splits only at spaces and punctuation, so
a run of Chinese text is one "word" that WordPiece cuts greedily, longest piece first: the first
piece as itself, the rest as "##" pieces. So the vocabulary holds every character of CHAR_VOCAB
both ways (a run never falls back to [UNK] because a character lacks a "##" form), and the chosen
words both ways too. No word segmenter is used: a word is a character n-gram (2 to 4) of the
corpus that is frequent (>= --min-count) and cohesive — a bigram ab whose count is at least
--min-pmi times what independent characters would give (count(a) count(b) / N), a longer n-gram
whose count is at least half that of its rarer (n-1)-character part — the --max-words most
frequent of them. The special tokens and characters keep their ids.

usage: build_word_vocab.py CORPUS CHAR_VOCAB OUT [--max-words 4000] [--min-count 20] [--min-pmi 4]
"""
import argparse
import sys
from collections import Counter


def is_cjk(ch):
    c = ord(ch)
    return 0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0x20000 <= c <= 0x2A6DF or 0xF900 <= c <= 0xFAFF


def cjk_runs(line):
    run = []
    for ch in line:
        if is_cjk(ch):
            run.append(ch)
        elif run:
            yield "".join(run)
            run = []
    if run:
        yield "".join(run)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("char_vocab")
    ap.add_argument("out")
    ap.add_argument("--max-words", type=int, default=4000)
    ap.add_argument("--min-count", type=int, default=20)
    ap.add_argument("--min-pmi", type=float, default=4.0)
    a = ap.parse_args()
    chars = [t.rstrip("\n") for t in open(a.char_vocab, encoding="utf-8")]
    known = set(chars)
    grams = {n: Counter() for n in range(1, 5)}
    for line in open(a.corpus, encoding="utf-8"):
        for run in cjk_runs(line):
            for n in range(1, 5):
                for i in range(len(run) - n + 1):
                    grams[n][run[i:i + n]] += 1
    total = sum(grams[1].values())
    words = {}
    for g, c in grams[2].items():
        if c >= a.min_count and all(ch in known for ch in g) and \
                c * total >= a.min_pmi * grams[1][g[0]] * grams[1][g[1]]:
            words[g] = c
    for n in (3, 4):
        for g, c in grams[n].items():
            parts = (g[:-1], g[1:])
            if c >= a.min_count and all(p in words for p in parts) and 2 * c >= min(words[p] for p in parts):
                words[g] = c
    chosen = [g for g, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:a.max_words]]
    specials = [t for t in chars if t.startswith("[") and t.endswith("]")] + ["<S>", "<T>"]
    out = list(chars)
    out += ["##" + t for t in chars if t not in specials and not t.startswith("##")]
    for g in chosen:
        out += [g, "##" + g]
    seen = set()
    dup = [t for t in out if t in seen or seen.add(t)]
    if dup:
        sys.exit(f"{a.char_vocab}: tokens repeat once the words are added: {dup[:5]}")
    open(a.out, "w", encoding="utf-8").write("\n".join(out) + "\n")
    by_len = Counter(len(g) for g in chosen)
    print(f"{a.out}: {len(out)} tokens = {len(chars)} of {a.char_vocab}, their '##' forms, and {len(chosen)} words "
          f"both ways ({by_len[2]} of 2 characters, {by_len[3]} of 3, {by_len[4]} of 4); "
          f"e.g. {' '.join(chosen[:12])}")


if __name__ == "__main__":
    main()

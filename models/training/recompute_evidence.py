"""Recomputes every figure of the demonstration pack's evidence from the stored per-image outputs,
independently of the TypeScript that made them (models/training/evidence.ts), with numpy and
scikit-learn.

usage: /usr/bin/python3 models/training/recompute_evidence.py [--pack models/packs/demo] [--json]

Reads PACK/evidence/validation-outputs.json, PACK/evidence/evidence-outputs.json and, for the
bootstrap's seed and count and for the comparison, PACK/evaluation.json. Without --json it prints
the figures and compares them with evaluation.json (exit code 1 on any difference); with --json it
prints one JSON object: the figures, scikit-learn's own values and the consistency checks.

Definitions (the same as evidence.ts, so that the figures agree to the last bit):
  - operating points: per member and trained finding, the validation threshold "logit >= v" with the
    best F1 (compared exactly; the highest v on a tie), placed half-way between v and the next lower
    validation logit (v - 1 below the lowest); untrained heads never vote;
  - micro-F1 2tp / (2tp + fp + fn) over the 7 findings; hierarchical F1 the same on the finding sets
    extended with their PadChest ancestors, the root left out; AUC the Mann-Whitney U (ties half)
    over P x N, computed in integers (2U) to one division; the pointing game hits / total;
  - 95 % intervals: a cluster bootstrap over patients (mulberry32 from the stated seed; patient
    floor(u x patients), patients in order of first appearance; an image weighs as often as its
    patient was drawn), the order statistics floor(25 B / 1000) and ceil(975 B / 1000) - 1.
scikit-learn's f1_score (micro) and roc_auc_score give the point figures a second, independent
time (they agree to float rounding); the checks confirm that the stored votes, decisions and
scores follow from the stored logits and the shipped operating points.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mulberry32(seed):
    mask = 0xFFFFFFFF
    state = seed & mask

    def imul(a, b):
        return (a * b) & mask

    def next_value():
        nonlocal state
        state = (state + 0x6D2B79F5) & mask
        t = imul(state ^ (state >> 15), 1 | state)
        t = ((t + imul(t ^ (t >> 7), 61 | t)) & mask) ^ t
        return ((t ^ (t >> 14)) & mask) / 4294967296.0

    return next_value


def cluster_weights(patients, resamples, seed):
    """[resamples, images] int64: how often each image is drawn."""
    ids = list(dict.fromkeys(patients))
    index = {p: i for i, p in enumerate(ids)}
    of_image = np.array([index[p] for p in patients])
    draw = mulberry32(seed)
    n = len(ids)
    drawn = np.zeros((resamples, n), dtype=np.int64)
    for b in range(resamples):
        row = drawn[b]
        for _ in range(n):
            row[int(draw() * n)] += 1
    return drawn[:, of_image]


def interval(value, resampled):
    s = np.sort(np.asarray(resampled, dtype=np.float64))
    n = len(s)
    return {"value": float(value), "low": float(s[(25 * n) // 1000]), "high": float(s[-((-975 * n) // 1000) - 1])}


def f1_of(tp, fp, fn):
    """2tp / (2tp + fp + fn), elementwise on integer arrays (1 when there is nothing to find or call)."""
    tp, fp, fn = (np.asarray(v, dtype=np.int64) for v in (tp, fp, fn))
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, (2 * tp) / np.maximum(denominator, 1), 1.0)


def counted(tp, fp, fn):
    tp, fp, fn = int(tp), int(fp), int(fn)
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }


def best_f1_threshold(truth, logits):
    truth = np.asarray(truth, dtype=np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    order = np.argsort(-logits, kind="stable")
    s = logits[order]
    y = truth[order]
    cum_tp = np.cumsum(y)
    cum_fp = np.cumsum(1 - y)
    positives = int(truth.sum())
    best = None
    n = len(s)
    for j in range(n):
        if j + 1 < n and s[j + 1] == s[j]:
            continue
        tp, fp = int(cum_tp[j]), int(cum_fp[j])
        fn = positives - tp
        if tp > 0 and (best is None or tp * (2 * best[0] + best[1] + (positives - best[0])) > best[0] * (2 * tp + fp + fn)):
            best = (tp, fp, float(s[j]), float(s[j + 1]) if j + 1 < n else float(s[j]) - 1)
    if best is None:
        return {"threshold": None, "validationF1": None}
    tp, fp, value, below = best
    return {"threshold": (value + below) / 2, "validationF1": float(f1_of(tp, fp, positives - tp))}


class Auc:
    """Mann-Whitney AUC (ties half) with integer image weights, in integers to one division."""

    def __init__(self, truth, scores):
        scores = np.asarray(scores, dtype=np.float64)
        self.order = np.argsort(scores, kind="stable")
        s = scores[self.order]
        self.starts = np.concatenate([[0], np.nonzero(s[1:] != s[:-1])[0] + 1])
        self.positive = np.asarray(truth, dtype=np.int64)[self.order]

    def values(self, weights):
        w = np.asarray(weights, dtype=np.int64)[..., self.order]
        wp = w * self.positive
        wn = w * (1 - self.positive)
        p_groups = np.add.reduceat(wp, self.starts, axis=-1)
        n_groups = np.add.reduceat(wn, self.starts, axis=-1)
        n_below = np.cumsum(n_groups, axis=-1) - n_groups
        twice_u = (2 * p_groups * n_below + p_groups * n_groups).sum(axis=-1)
        p, n = wp.sum(axis=-1), wn.sum(axis=-1)
        if np.any(p == 0) or np.any(n == 0):
            raise ValueError("a resample has one class only, no AUC")
        return twice_u / (2 * p * n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", default=os.path.join(ROOT, "models", "packs", "demo"))
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the comparison")
    args = parser.parse_args()
    load = lambda name: json.load(open(os.path.join(args.pack, name)))
    validation = load("evidence/validation-outputs.json")
    evidence = load("evidence/evidence-outputs.json")
    evaluation = load("evaluation.json")
    plan = evaluation["bootstrap"]
    labels, members, root = evidence["labels"], evidence["members"], evidence["root"]
    rows = evidence["rows"]
    K = len(labels)
    truth = np.array([row["truth"] for row in rows], dtype=np.int64)
    weights = cluster_weights([row["patient"] for row in rows], plan["resamples"], plan["seed"])
    ones = np.ones(len(rows), dtype=np.int64)
    ancestors = {term: [a for a in evidence["ancestors"][term] if a != root] for term in labels}

    # Operating points on validation alone.
    v_truth = np.array([row["truth"] for row in validation["rows"]], dtype=np.int64)
    points, best_calls = {}, {}
    for m in members:
        v_logits = np.array([row["logits"][m] for row in validation["rows"]], dtype=np.float64)
        e_logits = np.array([row["logits"][m] for row in rows], dtype=np.float64)
        points[m] = {}
        calls = np.zeros((len(rows), K), dtype=np.int64)
        for k, term in enumerate(labels):
            point = best_f1_threshold(v_truth[:, k], v_logits[:, k]) if evidence["trained"][m][k] else {"threshold": None, "validationF1": None}
            points[m][term] = point
            if point["threshold"] is not None:
                calls[:, k] = e_logits[:, k] >= point["threshold"]
        best_calls[m] = calls

    def extended(matrix):
        sets = []
        for row in matrix:
            terms = [t for k, t in enumerate(labels) if row[k]]
            sets.append(set(terms) | {a for t in terms for a in ancestors[t]})
        return sets

    true_sets = extended(truth)

    def call_figures(calls):
        calls = np.asarray(calls, dtype=np.int64)
        per_image = np.stack([(calls & truth).sum(1), (calls & (1 - truth)).sum(1), ((1 - calls) & truth).sum(1)], 1)
        called_sets = extended(calls)
        h_image = np.array([[len(p & t), len(p - t), len(t - p)] for p, t in zip(called_sets, true_sets)], dtype=np.int64)
        out, resampled = {}, {}
        for name, image_counts in (("microF1", per_image), ("hierarchicalF1", h_image)):
            total = ones @ image_counts
            value = f1_of(*total)
            r = weights @ image_counts
            resampled[name] = f1_of(r[:, 0], r[:, 1], r[:, 2])
            out[name] = {**interval(value, resampled[name]), **counted(*total)}
        return out, resampled

    def model_figures(scores, hit):
        scores = np.asarray(scores, dtype=np.float64)
        aucs, resampled_aucs = {}, []
        for k, term in enumerate(labels):
            auc = Auc(truth[:, k], scores[:, k])
            r = auc.values(weights)
            resampled_aucs.append(r)
            aucs[term] = interval(auc.values(ones), r)
        # The mean over the labels, added in label order from 0 as evidence.ts does.
        mean_value, mean_r = 0.0, np.zeros(len(weights))
        for k, term in enumerate(labels):
            mean_value += aucs[term]["value"]
            mean_r = mean_r + resampled_aucs[k]
        mean_value, mean_r = mean_value / K, mean_r / K

        def pointing(with_cardiomegaly):
            entries = [(i, hit(e)) for i, row in enumerate(rows) for e in row["pointing"]
                       if (with_cardiomegaly or e["term"] != "cardiomegaly") and hit(e) is not None]
            image = np.array([i for i, _ in entries])
            hits = np.array([h for _, h in entries], dtype=np.int64)
            w = weights[:, image]
            return {**interval(hits.sum() / len(hits), (w * hits).sum(1) / w.sum(1)), "hits": int(hits.sum()), "total": len(hits)}

        return {"auc": aucs, "meanAuc": interval(mean_value, mean_r),
                "pointing": {"all": pointing(True), "withoutCardiomegaly": pointing(False)}}, mean_r

    e_calls, e_resampled = call_figures([row["ensembleCalls"] for row in rows])
    e_model, e_mean = model_figures([row["ensembleScore"] for row in rows], lambda e: e["ensemble"])
    figures = {"bestF1OperatingPoints": points, "ensemble": {**e_model, **e_calls}, "members": {}, "differences": {}}
    sk = {"microF1": {"ensemble": f1_score(truth, np.array([row["ensembleCalls"] for row in rows]), average="micro", zero_division=0)},
          "auc": {"ensemble": {t: roc_auc_score(truth[:, k], [row["ensembleScore"][k] for row in rows]) for k, t in enumerate(labels)}}}
    for m in members:
        shipped_calls = np.array([row["shippedCalls"][m] for row in rows], dtype=np.int64)
        best, best_r = call_figures(best_calls[m])
        shipped, shipped_r = call_figures(shipped_calls)
        logits = np.array([row["logits"][m] for row in rows], dtype=np.float64)
        model, mean_r = model_figures(logits, lambda e, m=m: e["members"].get(m))
        figures["members"][m] = {**model, "bestF1": best, "shipped": shipped}
        diff = lambda ours, theirs, name, theirs_fig: interval(figures["ensemble"][name]["value"] - theirs_fig[name]["value"], ours - theirs)
        figures["differences"][m] = {
            "microF1VsBestF1": diff(e_resampled["microF1"], best_r["microF1"], "microF1", best),
            "microF1VsShipped": diff(e_resampled["microF1"], shipped_r["microF1"], "microF1", shipped),
            "hierarchicalF1VsBestF1": diff(e_resampled["hierarchicalF1"], best_r["hierarchicalF1"], "hierarchicalF1", best),
            "meanAuc": interval(figures["ensemble"]["meanAuc"]["value"] - model["meanAuc"]["value"], e_mean - mean_r),
        }
        sk["microF1"][f"{m} best-F1"] = f1_score(truth, best_calls[m], average="micro", zero_division=0)
        sk["microF1"][f"{m} shipped"] = f1_score(truth, shipped_calls, average="micro", zero_division=0)
        sk["auc"][m] = {t: roc_auc_score(truth[:, k], logits[:, k]) for k, t in enumerate(labels)}

    # The stored votes, decisions and scores follow from the logits and the shipped operating points.
    vote_mismatches = decision_mismatches = 0
    score_difference = 0.0
    for row in rows:
        for k in range(K):
            voters, votes, calibrated = 0, 0, []
            for m in members:
                op = evidence["shippedOperatingPoints"][m][k]
                p = 1 / (1 + math.exp(-row["logits"][m][k]))
                if op is None:
                    vote_mismatches += row["shippedCalls"][m][k] != 0
                    continue
                voters += 1
                vote = int(p >= op)
                votes += vote
                vote_mismatches += row["shippedCalls"][m][k] != vote
                calibrated.append(p / (2 * op) if p < op else 1 - (1 - p) / (2 * (1 - op)))
            decision_mismatches += row["ensembleCalls"][k] != int(voters > 0 and 2 * votes > voters)
            # The majority rule's number: the (n // 2 + 1)-th largest member value (for an odd n the
            # median); for a label no member trained, of the raw heads' sigmoid.
            values = calibrated if voters else [1 / (1 + math.exp(-row["logits"][m][k])) for m in members]
            expected = sorted(values, reverse=True)[len(values) // 2]
            score_difference = max(score_difference, abs(row["ensembleScore"][k] - expected))
    checks = {"voteMismatches": vote_mismatches, "decisionMismatches": decision_mismatches,
              "largestScoreDifference": score_difference}
    exact = {"microF1": {"ensemble": figures["ensemble"]["microF1"]["value"],
                         **{f"{m} {kind}": figures["members"][m][key]["microF1"]["value"]
                            for m in members for kind, key in (("best-F1", "bestF1"), ("shipped", "shipped"))}},
             "auc": {"ensemble": {t: v["value"] for t, v in figures["ensemble"]["auc"].items()},
                     **{m: {t: v["value"] for t, v in figures["members"][m]["auc"].items()} for m in members}}}
    checks["largestDifferenceFromScikitLearn"] = max(
        [abs(sk["microF1"][name] - exact["microF1"][name]) for name in sk["microF1"]]
        + [abs(sk["auc"][model][t] - exact["auc"][model][t]) for model in sk["auc"] for t in labels])

    if args.json:
        json.dump({"figures": figures, "sklearn": sk, "checks": checks}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    same = json.loads(json.dumps(figures)) == evaluation["figures"]
    print(f"evidence: {len(rows)} images (seed {evidence['seed']}), {plan['resamples']} patient resamples (seed {plan['seed']})")
    ci = lambda i: f"{i['value']:.3f} [{i['low']:.3f}, {i['high']:.3f}]"
    print(f"ensemble          micro-F1 {ci(figures['ensemble']['microF1'])}  hF1 {ci(figures['ensemble']['hierarchicalF1'])}  "
          f"mean AUC (7) {ci(figures['ensemble']['meanAuc'])}  pointing {ci(figures['ensemble']['pointing']['all'])}")
    for m in members:
        f = figures["members"][m]
        print(f"{m:10s} best-F1 micro-F1 {ci(f['bestF1']['microF1'])}  shipped {ci(f['shipped']['microF1'])}  "
              f"mean AUC (7) {ci(f['meanAuc'])}  ensemble - member (best-F1) {ci(figures['differences'][m]['microF1VsBestF1'])}")
    print(f"checks: {json.dumps(checks)}")
    print("every figure equals evaluation.json" if same else "DIFFERENT from evaluation.json")
    ok = same and vote_mismatches == 0 and decision_mismatches == 0 and checks["largestDifferenceFromScikitLearn"] < 1e-12
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

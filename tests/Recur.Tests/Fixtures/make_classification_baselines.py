#!/usr/bin/python3
"""Reference outputs of the classical text classifiers, computed with Debian's python3-sklearn on the same
features Recur builds: word and bigram counts of space-separated lower-case words.

    /usr/bin/python3 tests/Recur.Tests/Fixtures/make_classification_baselines.py

writes classification_sklearn.json beside this script. Naive Bayes is MultinomialNB on binary counts; logistic
regression is LogisticRegression (lbfgs) on TfidfVectorizer features; NBSVM is LinearSVC (squared hinge, bias as a
penalised feature) on binary counts scaled by the naive-Bayes log-count ratio, its weights interpolated as in Wang &
Manning (2012)."""
import json
import os

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC

PATTERN = r"[a-z]+"


def corpus(rng, classes, count):
    shared = ["the", "a", "film", "was", "and", "it", "of", "story", "plot", "one"]
    cues = [["good", "great", "fine", "loved"], ["bad", "awful", "dull", "boring"], ["odd", "strange", "weird"]]
    texts, labels = [], []
    for _ in range(count):
        label = int(rng.integers(classes))
        length = int(rng.integers(4, 14))
        words = []
        for _ in range(length):
            if rng.random() < 0.3:
                pool = cues[label] if rng.random() < 0.75 else cues[int(rng.integers(classes))]
            else:
                pool = shared
            words.append(pool[int(rng.integers(len(pool)))])
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def nbsvm(x_train, y, x_test, c, alpha=1.0, beta=0.25):
    p = alpha + x_train[y == 1].sum(axis=0)
    q = alpha + x_train[y != 1].sum(axis=0)
    r = np.log(p / p.sum()) - np.log(q / q.sum())
    svm = LinearSVC(C=c, loss="squared_hinge", dual=False, tol=1e-10, max_iter=1_000_000, intercept_scaling=1.0)
    svm.fit(x_train * r, np.where(y == 1, 1, -1))
    w = svm.coef_[0]
    w = (1 - beta) * np.abs(w).mean() + beta * w
    return (x_test * r) @ w + svm.intercept_[0]


def case(seed, classes):
    rng = np.random.default_rng(seed)
    train_texts, train_labels = corpus(rng, classes, 80)
    test_texts, _ = corpus(rng, classes, 20)
    y = np.array(train_labels)
    counts = CountVectorizer(ngram_range=(1, 2), token_pattern=PATTERN, binary=True)
    x_train = counts.fit_transform(train_texts).toarray().astype(float)
    x_test = counts.transform(test_texts).toarray().astype(float)
    nb = MultinomialNB(alpha=1.0).fit(x_train, y)
    tfidf = TfidfVectorizer(ngram_range=(1, 2), token_pattern=PATTERN)
    t_train = tfidf.fit_transform(train_texts)
    t_test = tfidf.transform(test_texts)
    logreg = LogisticRegression(C=10.0, solver="newton-cg", tol=1e-8, max_iter=100_000).fit(t_train, y)
    if classes == 2:
        margins = [nbsvm(x_train, y, x_test, 1.0).tolist()]
    else:
        margins = [nbsvm(x_train, (y == k).astype(int), x_test, 1.0).tolist() for k in range(classes)]
    return {
        "classes": classes,
        "features": len(counts.vocabulary_),
        "train_texts": train_texts,
        "train_labels": train_labels,
        "test_texts": test_texts,
        "tfidf_first_test_row": {
            "terms": [tfidf.get_feature_names_out()[j] for j in t_test[0].indices],
            "values": t_test[0].data.tolist(),
        },
        "nb_log_probabilities": nb.predict_log_proba(x_test).tolist(),
        "logreg_regularization": 10.0,
        "logreg_probabilities": logreg.predict_proba(t_test).tolist(),
        "nbsvm_margins": margins,
    }


fixture = {"binary": case(1, 2), "multiclass": case(2, 3)}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "classification_sklearn.json")
with open(path, "w") as f:
    json.dump(fixture, f, indent=1)
print("wrote", path)

"""The notebook's figures. Each function draws one matplotlib figure and returns it.

Images are RGB arrays (uint8, or float in [0, 1]); distances are L2 distances.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

SAME, OTHER = "#1a7f37", "#cf222e"  # green: same person, red: someone else


def _show(ax, image: np.ndarray, title: str = "", color: str = "black") -> None:
    ax.imshow(image)
    ax.set_title(title, fontsize=9, color=color)
    ax.set_xticks([])
    ax.set_yticks([])


def pixel_distances(anchor: np.ndarray, anchor_label: str, candidates: Sequence[tuple[str, np.ndarray, bool]],
                    distances: Sequence[float]) -> Figure:
    """The anchor photo and candidates sorted by pixel distance; green titles: same person, red: someone else.

    Args:
        anchor: the photo everything is compared with.
        anchor_label: its caption.
        candidates: ``(caption, image, same_person)`` for each compared photo.
        distances: pixel distance of each candidate to the anchor, in the same order.
    """
    order = np.argsort(distances)
    fig, axes = plt.subplots(1, len(candidates) + 1, figsize=(2.0 * (len(candidates) + 1), 2.6))
    _show(axes[0], anchor, f"{anchor_label}\n(anchor)")
    for ax, index in zip(axes[1:], order):
        label, image, same = candidates[index]
        _show(ax, image, f"{label}\npixel distance {distances[index]:.1f}", SAME if same else OTHER)
    fig.suptitle("Pixel distance to the anchor, closest first (green: same person, red: someone else)", fontsize=10)
    fig.tight_layout()
    return fig


def triplets(rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], labels: Sequence[tuple[str, str, str]],
             pos_dist: Sequence[float], neg_dist: Sequence[float], losses: Sequence[float],
             alpha: float = 0.2) -> Figure:
    """Anchor / positive / negative triplets with their squared encoding distances and triplet loss.

    Args:
        rows: ``(anchor, positive, negative)`` images of each triplet.
        labels: their captions.
        pos_dist: ``||f(A) - f(P)||^2`` of each triplet; ``neg_dist``: ``||f(A) - f(N)||^2``.
        losses: each triplet's loss ``max(pos_dist - neg_dist + alpha, 0)``.
    """
    fig, axes = plt.subplots(len(rows), 4, figsize=(9.0, 2.3 * len(rows)),
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.6]}, squeeze=False)
    for i, (images, names) in enumerate(zip(rows, labels)):
        for j, (image, name, role, color) in enumerate(zip(images, names, ("anchor", "positive", "negative"),
                                                           ("black", SAME, OTHER))):
            _show(axes[i, j], image, f"{role}: {name}", color)
        text = axes[i, 3]
        text.axis("off")
        text.text(0.0, 0.5, f"$||f(A)-f(P)||^2$ = {pos_dist[i]:.3f}\n$||f(A)-f(N)||^2$ = {neg_dist[i]:.3f}\n"
                            f"loss = max({pos_dist[i]:.3f} - {neg_dist[i]:.3f} + {alpha}, 0) = {losses[i]:.3f}",
                  va="center", fontsize=9)
    fig.suptitle("Triplets: the loss is zero once the negative is farther than the positive by the margin",
                 fontsize=10)
    fig.tight_layout()
    return fig


def distance_heatmap(distances: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str],
                     threshold: float, truth: dict[str, str] | None = None) -> Figure:
    """Heatmap of encoding distances (rows: database, columns: camera shots) with the threshold marked.

    Cells at or under ``threshold`` (the door would open) are outlined in black and
    the colour scale turns from blue to red at the threshold (drawn on the colour bar);
    ``truth`` maps a column label to the row label of the person really in that shot
    (marked with a star).
    """
    distances = np.asarray(distances, np.float64)
    top = max(float(distances.max()), 1.5 * threshold)
    norm = TwoSlopeNorm(vmin=min(float(distances.min()), 0.5 * threshold), vcenter=threshold, vmax=top)
    fig, ax = plt.subplots(figsize=(1.1 * len(column_labels) + 3.0, 0.42 * len(row_labels) + 1.8))
    image = ax.imshow(distances, cmap="coolwarm", norm=norm, aspect="auto")
    ax.set_xticks(range(len(column_labels)), column_labels, rotation=30, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels)
    for r in range(len(row_labels)):
        for c in range(len(column_labels)):
            ax.text(c, r, f"{distances[r, c]:.2f}", ha="center", va="center", fontsize=8)
            if distances[r, c] <= threshold:
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
    for column, row in (truth or {}).items():
        if column in column_labels and row in row_labels:
            ax.plot(list(column_labels).index(column) + 0.38, list(row_labels).index(row) - 0.25, marker="*",
                    color="gold", markeredgecolor="black", markersize=11)
    bar = fig.colorbar(image, ax=ax, label=f"L2 distance between encodings (black line: threshold {threshold:.3f})")
    bar.ax.axhline(threshold, color="black", linewidth=3)
    ax.set_title("Who opens the door? Outlined: distance <= threshold; star: the person really in the shot",
                 fontsize=10)
    fig.tight_layout()
    return fig


def crop_comparison(whole: np.ndarray, aligned: np.ndarray, names: Sequence[str]) -> Figure:
    """The same photos as the network would see them: shrunk whole (top) and cropped to the aligned face (bottom)."""
    fig, axes = plt.subplots(2, len(names), figsize=(1.9 * len(names), 4.0), squeeze=False)
    for j, name in enumerate(names):
        _show(axes[0, j], whole[j], name)
        _show(axes[1, j], aligned[j])
    axes[0, 0].set_ylabel("whole photo")
    axes[1, 0].set_ylabel("cropped + aligned")
    fig.tight_layout()
    return fig


def improvement_bars(results: dict[str, tuple[float, float]]) -> Figure:
    """Bars of ``{setting: (top1, admitted)}`` accuracies, in percent."""
    labels = list(results)
    top1 = [100 * results[key][0] for key in labels]
    admitted = [100 * results[key][1] for key in labels]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(1.8 * len(labels) + 2.0, 3.4))
    ax.bar(x - 0.2, top1, 0.4, label="closest person is right")
    ax.bar(x + 0.2, admitted, 0.4, label="... and within the threshold")
    for xi, value in zip(x, top1):
        ax.text(xi - 0.2, value + 1, f"{value:.0f}", ha="center", fontsize=8)
    for xi, value in zip(x, admitted):
        ax.text(xi + 0.2, value + 1, f"{value:.0f}", ha="center", fontsize=8)
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 110)
    ax.set_ylabel("% of photos")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def pair_distances(same: np.ndarray, different: np.ndarray, threshold: float) -> Figure:
    """Histograms of same-person and different-person pair distances, with the threshold as the decision line."""
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    bins = np.linspace(0.0, max(float(np.max(same)), float(np.max(different)), 1.5 * threshold), 40)
    ax.hist(different, bins=bins, density=True, alpha=0.6, color=OTHER, label="different people")
    ax.hist(same, bins=bins, density=True, alpha=0.6, color=SAME, label="same person")
    ax.axvline(threshold, color="black", linewidth=2)
    ax.text(threshold, ax.get_ylim()[1] * 0.95, f" threshold {threshold:.3f}\n same <- | -> different",
            va="top", fontsize=8)
    ax.set_xlabel("L2 distance between the two encodings")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

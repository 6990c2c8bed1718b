#!/usr/bin/env python3
"""Write the golden fixtures that pin plateflow's built-in image functions to SciPy / scikit-image.

Run with Debian's interpreter (numpy, scipy, scikit-image, tifffile):

    /usr/bin/python3 test/golden/make_golden.py [--data /work/shared/data/bbbc016-arrayscan]

Everything written is deterministic (fixed formulas and fixed-seed PCG64 generators), so re-running it
gives the same bytes for the same library versions. Output, in test/fixtures/golden/:

  manifest.json          every case: inputs, expected values, and the binary files that hold arrays
  <case>.<what>.bin      raw little-endian C-order arrays; dtype and shape are in the manifest
  arrayscan_counts.json  the peer pipeline's object count for each of the 72 BBBC016 ArrayScan images

Peer semantics (shared/peers/peer_pipeline.py): max-project Z (identity for one plane), Gaussian sigma 2
on float32, Otsu over 256 bins, 4-connected labels, count objects of at least 20 px.
"""
import argparse
import glob
import json
import os
import re

import numpy as np
import scipy
import skimage
import tifffile
from scipy import ndimage
from skimage.filters import threshold_otsu

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "golden"))
SIGMAS = (1.0, 2.0, 3.5)
PERCENTILES = (0.0, 1.0, 25.0, 50.0, 99.0, 99.9, 100.0)
MIN_SIZE = 20
REAL_NAME = "AS_09047_050428030001_O01f00d2.TIF"
CROP = 32


def write_array(name, arr):
    arr = np.ascontiguousarray(arr)
    le = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(le.tobytes())
    return {"file": name, "dtype": str(arr.dtype), "shape": list(arr.shape)}


def blobs(rng, h, w, count, amplitude, background, rmin, rmax):
    """Nuclei-like blobs with an illumination falloff and Poisson noise, like make_plate.py."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w), np.float32)
    for _ in range(count):
        cy, cx = rng.uniform(2, h - 2), rng.uniform(2, w - 2)
        r = rng.uniform(rmin, rmax)
        img += np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)) ** 2)
    falloff = 1.0 - 0.45 * ((yy / h - 0.5) ** 2 + (xx / w - 0.5) ** 2)
    return rng.poisson(np.clip((background + amplitude * img) * falloff, 0, None))


def inputs():
    rng = np.random.default_rng(20240611)
    cases = {}
    cases["blobs_u16"] = blobs(rng, 48, 64, 14, 3000.0, 300.0, 2.5, 5.0).astype(np.uint16)
    # Small dense blobs: many diagonal-only contacts, so 4- and 8-connectivity disagree.
    dense = blobs(rng, 40, 56, 60, 120.0, 20.0, 1.0, 2.2)
    cases["dense_u8"] = np.clip(dense, 0, 255).astype(np.uint8)
    # Signed float data with a gradient: exercises the float Otsu path on raw input.
    yy, xx = np.mgrid[0:33, 0:47].astype(np.float32)
    noise = rng.normal(0.0, 1.0, (33, 47)).astype(np.float32)
    cases["ramp_f32"] = (np.sin(xx / 5.0) * np.cos(yy / 7.0) * 4.0 + 0.05 * xx - 1.0 + noise).astype(np.float32)
    # Lines shorter than the Gaussian radius: 'reflect' must repeat periodically.
    cases["tiny_u16"] = np.array([[5, 900, 17, 300, 41], [60, 2, 1000, 8, 77], [400, 3, 9, 650, 12]], np.uint16)
    cases["flat_u16"] = np.full((4, 6), 1234, np.uint16)
    return cases


def otsu_record(img, nbins=256):
    """The threshold, the bin width skimage used, and how many pixels lie strictly above it."""
    t = threshold_otsu(img, nbins=nbins)
    if np.issubdtype(img.dtype, np.integer):
        width = 1.0
    else:
        lo, hi = float(img.min()), float(img.max())
        width = (hi - lo) / nbins if hi > lo else 1.0
    return {"threshold": float(t), "bin_width": width, "above": int((img > t).sum())}


def segment(img, connectivity):
    """Peer pipeline after projection: blur sigma 2 on float32, Otsu, label, count >= MIN_SIZE px."""
    blurred = ndimage.gaussian_filter(img.astype(np.float32), 2)
    mask = blurred > threshold_otsu(blurred)
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    labels, n = ndimage.label(mask, structure=structure)
    sizes = np.bincount(labels.ravel())[1:]
    return labels, int(n), int((sizes >= MIN_SIZE).sum()), int(mask.sum())


def percentiles(img):
    return [float(v) for v in np.percentile(img, PERCENTILES)]


def describe(name, img, store_full):
    rec = {"name": name}
    rec["input"] = write_array(f"{name}.input.bin", img)
    f = img.astype(np.float32)
    rec["range"] = float(f.max()) - float(f.min())
    rec["gaussian"] = []
    for s in SIGMAS:
        g = ndimage.gaussian_filter(f, s)
        entry = {"sigma": s, "truncate": 4.0, "min": float(g.min()), "max": float(g.max()),
                 "sum": float(g.astype(np.float64).sum()), "otsu": otsu_record(g)}
        if store_full:
            entry["output"] = write_array(f"{name}.gauss{s:g}.bin", g)
        else:
            h, w = g.shape
            entry["crops"] = [
                {"y": 0, "x": 0, **write_array(f"{name}.gauss{s:g}.tl.bin", g[:CROP, :CROP])},
                {"y": h - CROP, "x": w - CROP, **write_array(f"{name}.gauss{s:g}.br.bin", g[h - CROP:, w - CROP:])},
                {"y": h // 2 - CROP // 2, "x": w // 2 - CROP // 2,
                 **write_array(f"{name}.gauss{s:g}.mid.bin",
                               g[h // 2 - CROP // 2:h // 2 + CROP // 2, w // 2 - CROP // 2:w // 2 + CROP // 2])},
            ]
        rec["gaussian"].append(entry)
    rec["otsu_input"] = otsu_record(img)
    rec["otsu_input_bins"] = {str(b): otsu_record(img, b) for b in (16, 64)}
    rec["segment"] = {}
    for conn in (4, 8):
        labels, n, big, fg = segment(img, conn)
        seg = {"labels": n, "objects_min20": big, "foreground": fg}
        if store_full and n < 65536:
            seg["label_image"] = write_array(f"{name}.labels{conn}.bin", labels.astype(np.uint16))
        rec["segment"][str(conn)] = seg
    blurred2 = ndimage.gaussian_filter(f, 2)
    rec["percentiles"] = {"q": list(PERCENTILES), "input": percentiles(img), "blurred2": percentiles(blurred2)}
    return rec


def random_masks():
    """Raw binary masks (no blur) full of diagonal-only contacts, where 4- and 8-connectivity disagree."""
    rng = np.random.default_rng(7)
    out = []
    for i, p in enumerate((0.3, 0.45, 0.6)):
        mask = (rng.random((40, 56)) < p).astype(np.uint8)
        rec = {"name": f"mask{i}", "p": p, "input": write_array(f"mask{i}.input.bin", mask)}
        for conn in (4, 8):
            structure = ndimage.generate_binary_structure(2, 1 if conn == 4 else 2)
            labels, n = ndimage.label(mask, structure=structure)
            sizes = np.bincount(labels.ravel())[1:]
            rec[str(conn)] = {"labels": int(n), "label_image": write_array(f"mask{i}.labels{conn}.bin", labels.astype(np.uint16)),
                              "objects": {str(m): int((sizes >= m).sum()) for m in (0, 1, 3, 20)}}
        out.append(rec)
    return out


def arrayscan_counts(data):
    """Per-(well, site) counts of the whole 72-image BBBC016 sample, with the peer's exact pipeline."""
    name_re = re.compile(r"^(?P<plate>.+)_(?P<well>[A-P]\d{2})f(?P<field>\d{2})d(?P<channel>\d)\.TIF$", re.I)
    images = []
    for path in sorted(glob.glob(os.path.join(data, "*.TIF"))):
        m = name_re.match(os.path.basename(path))
        if not m:
            continue
        proj = np.stack([tifffile.imread(path)]).max(axis=0)
        blurred = ndimage.gaussian_filter(proj.astype(np.float32), 2)
        t = threshold_otsu(blurred)
        mask = blurred > t
        labels, n = ndimage.label(mask)
        sizes = np.bincount(labels.ravel())[1:]
        images.append({"file": os.path.basename(path), "well": m["well"], "site": int(m["field"]),
                       "channel": int(m["channel"]), "threshold": float(t), "foreground": int(mask.sum()),
                       "labels": int(n), "count": int((sizes >= MIN_SIZE).sum())})
    return {
        "description": "Peer pipeline (shared/peers/peer_pipeline.py) on the BBBC016 ArrayScan sample: max-project "
                       "(one plane, identity), gaussian_filter(float32, sigma=2), threshold_otsu(nbins=256), "
                       "mask = blurred > threshold, ndimage.label (4-connected), count objects >= 20 px. "
                       "Keys of `counts` are <well>_s<site>, site = the ArrayScan field number from the file name.",
        "min_size": MIN_SIZE,
        "counts": {f"{r['well']}_s{r['site']}": r["count"] for r in images},
        "images": images,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "data",
                                                                    "bbbc016-arrayscan")))
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    for old in glob.glob(os.path.join(OUT, "*.bin")):
        os.remove(old)
    manifest = {
        "generator": "test/golden/make_golden.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "skimage": skimage.__version__},
        "format": "each array is raw little-endian C-order bytes; dtype and shape are given next to its file name",
        "min_size": MIN_SIZE,
        "cases": [describe(name, img, True) for name, img in inputs().items()],
        "masks": random_masks(),
    }
    real = os.path.join(a.data, REAL_NAME)
    if os.path.exists(real):
        img = tifffile.imread(real)
        rec = describe("arrayscan_O01f00", img, False)
        rec["source"] = REAL_NAME
        rec["input"] = {"source": REAL_NAME, "dtype": str(img.dtype), "shape": list(img.shape),
                        "sum": int(img.astype(np.int64).sum())}
        os.remove(os.path.join(OUT, "arrayscan_O01f00.input.bin"))
        manifest["real"] = rec
        with open(os.path.join(OUT, "arrayscan_counts.json"), "w") as f:
            json.dump(arrayscan_counts(a.data), f, indent=1)
            f.write("\n")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

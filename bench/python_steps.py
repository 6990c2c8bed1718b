"""The standard pipeline's channel-1 chain as Python steps, for `npm run bench:python`.

examples/standard.json counts nuclei with the built-ins gaussian_blur -> otsu_threshold -> label ->
count_objects; these four functions are that chain in scipy / scikit-image, computed the way
../shared/peers/peer_pipeline.py computes it, so the counts must equal the peer's exactly.

plateflow hands each function a stack (planes, Y, X): here one plane per site of a well, so every
function works plane by plane (a 3-D filter or label would mix the sites).

`count_nuclei` is the same chain as one step, for comparison. `identity` is the round-trip probe:
it returns its input, which the bridge recognises as already in shared memory, so a call costs
only the crossing itself.
"""
import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu


def gaussian(stack, sigma):
    # float32 first, as the peer does: the blur, and so the Otsu threshold after it, are float32.
    return np.stack([ndimage.gaussian_filter(plane.astype(np.float32), sigma) for plane in stack])


def otsu_mask(stack, bins):
    return np.stack([plane > threshold_otsu(plane, nbins=bins) for plane in stack])


def label(stack, connectivity):
    # rank 1 is the 4-neighbourhood (scipy's default structure), rank 2 adds the diagonals.
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    return np.stack([ndimage.label(plane, structure)[0] for plane in stack])


def count_objects(stack, min_size):
    """Passes the labels through; `object_count` per plane, the built-in count_objects' name."""
    counts = [{"object_count": int((np.bincount(plane.ravel())[1:] >= min_size).sum())} for plane in stack]
    return stack, counts


def count_nuclei(stack, sigma, bins, connectivity, min_size):
    """The four steps above in one call: what the chain costs without three of its four crossings."""
    return count_objects(label(otsu_mask(gaussian(stack, sigma), bins), connectivity), min_size)


def identity(stack):
    return stack

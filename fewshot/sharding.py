"""Independent runs and episodes spread over every device, with JAX's own runtime.

Seeds, folds and episodes are independent computations along one leading
axis. With more than one device (several GPUs, a TPU slice, forced CPU
devices, or several processes after `jax.distributed.initialize`) that axis
is split over a one-dimensional `Mesh` of all devices (`jax.devices()`, every
process's) by `jax.shard_map`: each device runs the same per-item program on
its block of items with no communication, so every item's numbers are those
of the one-device run. The axis is padded to a multiple of the device count
(by repeating the first item) and the padding is cut off afterwards.

With one device none of this happens: the callers compile exactly the
program they compiled before, so one-device runs are not slowed down.

Multi-process (one controller per host): every process calls the library
with the same arguments, as JAX's multi-controller model requires; inputs
are assembled into global arrays from the per-process copies
(`jax.make_array_from_callback`) and results are gathered back to every
process (`multihost_utils.process_allgather`), so each process holds the
whole table, equal to a one-process run's.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = 'items'


def device_mesh() -> Mesh | None:
  """A 1-D mesh over all devices (all processes), or None with a single device."""
  devices = jax.devices()
  if len(devices) == 1:
    return None
  return _mesh(tuple(devices))


@functools.lru_cache(maxsize=8)
def _mesh(devices: tuple) -> Mesh:
  return Mesh(np.array(devices), (AXIS,))


def padded_size(n: int, mesh: Mesh | None) -> int:
  """`n` rounded up to a multiple of the mesh's device count."""
  if mesh is None:
    return n
  d = mesh.devices.size
  return -(-n // d) * d


def _host(x):
  """A leaf as a NumPy array (PRNG keys as their raw key data) and a function undoing it."""
  if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
    impl = jax.random.key_impl(x)
    return np.asarray(jax.random.key_data(x)), lambda a: jax.random.wrap_key_data(a, impl=impl)
  return np.asarray(x), lambda a: a


def _put(x, mesh: Mesh, spec: P, pad_to: int | None):
  value, undo = _host(x)
  if pad_to is not None and value.shape[0] != pad_to:
    extra = np.repeat(value[:1], pad_to - value.shape[0], axis=0)
    value = np.concatenate([value, extra])
  sharding = NamedSharding(mesh, spec)
  if jax.process_count() == 1:
    return undo(jax.device_put(value, sharding))
  return undo(jax.make_array_from_callback(value.shape, sharding, lambda idx: value[idx]))


def shard_items(tree, mesh: Mesh, size: int):
  """Puts every leaf's leading axis (padded to `size`) split over the mesh."""
  return jax.tree.map(lambda x: _put(x, mesh, P(AXIS), size), tree)


def replicate(tree, mesh: Mesh):
  """Puts every leaf whole on every device of the mesh."""
  return jax.tree.map(lambda x: _put(x, mesh, P(), None), tree)


def take_items(tree, n: int):
  """The first `n` items of every leaf (cuts the padding), gathered to every process."""
  if jax.process_count() > 1:
    tree = jax.tree.map(_gather, tree)
  return jax.tree.map(lambda x: x if x.shape[0] == n else x[:n], tree)


def _gather(x):
  if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
    value = multihost_utils.process_allgather(jax.random.key_data(x), tiled=True)
    return jax.random.wrap_key_data(jnp.asarray(value), impl=jax.random.key_impl(x))
  return jax.device_put(np.asarray(multihost_utils.process_allgather(x, tiled=True)))

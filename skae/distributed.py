"""Data-parallel fits on ``torch.distributed`` (user guide, "Scaling out").

Once a process group is initialised (``torchrun``, or
``torch.distributed.init_process_group``), ``fit`` and ``partial_fit`` run
on all its ranks together, each on its own rows; :func:`single_process`
fits in one process alone.
"""

from skae._distributed import single_process

__all__ = ["single_process"]
